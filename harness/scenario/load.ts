/**
 * Scenario loading: YAML with positions, JSON Schema validation, then the
 * checks a schema cannot express. Pure: scenario/file.ts reads the file.
 * Every error names file:line:column.
 */
import { dirname, resolve as resolvePath } from 'node:path';
import { isScalar, type Node } from 'yaml';
import { MEMINFO_FIELDS } from '../analysis/meminfo.ts';
import type { SplatKind, SplatPattern } from '../analysis/splats.ts';
import { ScenarioError } from '../errors.ts';
import type { InjectKind } from '../inject/kinds.ts';
import { KERNEL_TESTS } from '../ktest/catalog.ts';
import { APIS_WITHOUT_GFP, type Api, type Context, GFP_FLAGS, type Query } from '../probe/vocabulary.ts';
import { checkSchema, type Located, type Path, parseLocated } from '../util/document.ts';
import { CLAIMS } from './claims.ts';
import { LOAD_LIMITS } from './file.ts';
import { scenarioSchema } from './schema.ts';
import { parseShows, ShowsSyntaxError, STEP_NAMES } from './shows.ts';
import { parsePredicate, parseSize, type SizeExpr, SizeSyntaxError } from './size.ts';
import type {
  Action,
  ClaimRef,
  Expect,
  GuardedExpect,
  Inject,
  Matcher,
  ModuleParams,
  Pos,
  Requires,
  Scenario,
  Step,
  Sweep,
} from './types.ts';

const ACTION_KEYS = [
  'alloc',
  'time',
  'free',
  'inspect',
  'scan',
  'pause',
  'fragment',
  'unfragment',
  'query',
  'kernel_test',
  'module_load',
  'module_exec',
  'module_unload',
  'module_cycles',
] as const;

const scenarioError = (file: string, line: number, column: number, reason: string) => new ScenarioError(file, line, column, reason);

/** Deepest nesting of collections in the document (iteratively: a deep file must not overflow the stack). */
function depthOf(root: unknown): { depth: number; node?: Node } {
  let max = 0;
  let deepest: Node | undefined;
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length) {
    const [n, d] = stack.pop()!;
    const items = (n as { items?: unknown[] } | undefined)?.items;
    if (!Array.isArray(items)) continue;
    if (d + 1 > max) {
      max = d + 1;
      deepest = n as Node;
    }
    for (const it of items) {
      const pair = it as { key?: unknown; value?: unknown };
      if (pair && typeof pair === 'object' && 'value' in pair) stack.push([pair.value, d + 1]);
      else stack.push([it, d + 1]);
    }
  }
  return { depth: max, node: deepest };
}

export function parseScenario(src: string, file: string): Scenario {
  if (src.length > LOAD_LIMITS.bytes)
    throw new ScenarioError(file, 1, 1, `the text has ${src.length} characters; a scenario may have at most ${LOAD_LIMITS.bytes}`);
  const at = parseLocated(src, file, scenarioError);
  const { doc, lines } = at;
  const { depth, node } = depthOf(doc.contents);
  if (depth > LOAD_LIMITS.depth) {
    const lp = lines.linePos(node?.range?.[0] ?? 0);
    throw new ScenarioError(file, lp.line, lp.col, `nested ${depth} levels deep; a scenario may nest at most ${LOAD_LIMITS.depth}`);
  }
  let data: unknown;
  try {
    // Aliases are expanded here: a "billion laughs" file stops at the limit instead of filling memory.
    data = doc.toJS({ maxAliasCount: LOAD_LIMITS.aliases });
  } catch (e) {
    throw new ScenarioError(file, 1, 1, `YAML: ${(e as Error).message.split('\n')[0]} (at most ${LOAD_LIMITS.aliases} alias expansions)`);
  }
  checkSchema(data, scenarioSchema, at);
  return build(data as RawScenario, at);
}

interface RawStep {
  name?: string;
  requires?: Requires;
  alloc?: { api: Api; size?: string | number; order?: number; gfp?: string | string[]; ctx?: Context; hold?: string; fill?: number };
  time?: { api: Api; size?: string | number; order?: number; gfp?: string | string[]; repeat?: number; vs?: Api };
  query?: Query;
  free?: string;
  inspect?: string;
  scan?: { name: string; len: string | number; mark: string | number };
  pause?: { ms: number };
  fragment?: { pages: string | number };
  unfragment?: true;
  kernel_test?: { module: string; params?: Record<string, number | boolean>; cases?: string[]; timeout?: number };
  module_load?: { params?: ModuleParams; timeout?: number };
  module_exec?: string | { command: string; timeout?: number };
  module_unload?: true | { timeout?: number };
  module_cycles?: { count: number; params?: ModuleParams; exec?: string | string[]; timeout?: number };
  expect?: Record<string, unknown> | Record<string, unknown>[];
  inject?: { nth: number; kind?: InjectKind };
  sweep?: { size: (string | number)[] | { from: string | number; to: string | number; factor?: number } };
}
interface RawScenario {
  name: string;
  description?: string;
  claims?: string[] | Record<string, 'holds' | 'fails' | { if_passes: 'holds' | 'fails'; shows?: string; step?: string }>;
  requires?: Requires;
  boot?: { cmdline?: string | string[] };
  module?: string;
  steps: RawStep[];
}

function size(at: Located, path: Path, v: string | number, vars: readonly string[] = []): SizeExpr {
  try {
    return parseSize(v, vars);
  } catch (e) {
    if (!(e instanceof SizeSyntaxError)) throw e;
    const p = at.pos(path);
    // Point inside the expression when it sits on one line, unquoted.
    const node = at.doc.getIn(path, true) as Node | undefined;
    const quoted = isScalar(node) && (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') ? 1 : 0;
    throw new ScenarioError(p.file, p.line, p.column + quoted + e.offset, `bad size "${v}": ${e.message}`);
  }
}

function allocTarget(
  at: Located,
  path: Path,
  a: { api: Api; size?: string | number; order?: number; gfp?: string | string[] },
  swept: boolean,
) {
  if (a.api === 'pages') {
    if (a.order === undefined) throw at.error(path, 'api "pages" needs "order"');
    if (a.size !== undefined) throw at.error([...path, 'size'], 'api "pages" takes "order", not "size"');
  } else {
    if (a.size === undefined && !swept) throw at.error(path, `api "${a.api}" needs "size" (or the step a "sweep")`);
    if (a.size !== undefined && swept) throw at.error([...path, 'size'], "the size comes from the step's sweep: leave it out here");
    if (a.order !== undefined) throw at.error([...path, 'order'], '"order" is only for api "pages"');
  }
  if (APIS_WITHOUT_GFP.includes(a.api) && a.gfp !== undefined) {
    throw at.error([...path, 'gfp'], `${a.api} takes no GFP flags (it always allocates with GFP_KERNEL; __vmalloc takes them)`);
  }
  const none = APIS_WITHOUT_GFP.includes(a.api) || a.api === 'kmalloc_nolock';
  const gfp = a.gfp === undefined ? (none ? [] : ['GFP_KERNEL']) : Array.isArray(a.gfp) ? a.gfp : [a.gfp];
  const wrong = a.api === 'kmalloc_nolock' ? gfp.find((g) => g !== '__GFP_ZERO' && g !== '__GFP_ACCOUNT') : undefined;
  if (wrong) throw at.error([...path, 'gfp'], `kmalloc_nolock takes only __GFP_ZERO and __GFP_ACCOUNT, not ${wrong}`);
  gfp.forEach((g, i) => {
    if (!(g in GFP_FLAGS)) {
      const where = Array.isArray(a.gfp) ? [...path, 'gfp', i] : [...path, 'gfp'];
      throw at.error(where, `unknown GFP flag "${g}" (known: ${Object.keys(GFP_FLAGS).join(', ')})`);
    }
  });
  return {
    api: a.api,
    size: a.size === undefined ? undefined : size(at, [...path, 'size'], a.size),
    order: a.order,
    gfp,
  };
}

function action(at: Located, path: Path, s: RawStep): Action {
  const swept = s.sweep !== undefined;
  const present = ACTION_KEYS.filter((k) => s[k] !== undefined);
  if (present.length !== 1) {
    throw at.error(
      path,
      present.length ? `a step has one action; found ${present.join(' and ')}` : `a step needs one action: ${ACTION_KEYS.join(', ')}`,
    );
  }
  const k = present[0]!;
  switch (k) {
    case 'alloc':
      return {
        kind: 'alloc',
        ...allocTarget(at, [...path, k], s.alloc!, swept),
        ctx: s.alloc!.ctx ?? 'process',
        hold: s.alloc!.hold,
        fill: s.alloc!.fill,
      };
    case 'time':
      return { kind: 'time', ...allocTarget(at, [...path, k], s.time!, swept), repeat: s.time!.repeat ?? 100, vs: s.time!.vs };
    case 'query':
      return { kind: 'query', what: s.query! };
    case 'free':
      return { kind: 'free', name: s.free! };
    case 'inspect':
      return { kind: 'inspect', name: s.inspect! };
    case 'pause':
      return { kind: 'pause', ms: s.pause!.ms };
    case 'scan':
      return {
        kind: 'scan',
        name: s.scan!.name,
        len: size(at, [...path, 'scan', 'len'], s.scan!.len),
        mark: size(at, [...path, 'scan', 'mark'], s.scan!.mark),
      };
    case 'fragment':
      return { kind: 'fragment', pages: size(at, [...path, 'fragment', 'pages'], s.fragment!.pages) };
    case 'unfragment':
      return { kind: 'unfragment' };
    case 'kernel_test':
      return kernelTest(at, [...path, k], s.kernel_test!);
    case 'module_load':
      return { kind: 'module-load', params: moduleParams(at, [...path, k], s.module_load!.params), timeoutMs: ms(s.module_load!.timeout) };
    case 'module_exec': {
      const e = s.module_exec!;
      return typeof e === 'string'
        ? { kind: 'module-exec', command: e }
        : { kind: 'module-exec', command: e.command, timeoutMs: ms(e.timeout) };
    }
    case 'module_unload':
      return { kind: 'module-unload', timeoutMs: ms(s.module_unload === true ? undefined : s.module_unload!.timeout) };
    case 'module_cycles': {
      const c = s.module_cycles!;
      const exec = c.exec === undefined ? [] : Array.isArray(c.exec) ? c.exec : [c.exec];
      return { kind: 'module-cycles', count: c.count, params: moduleParams(at, [...path, k], c.params), exec, timeoutMs: ms(c.timeout) };
    }
  }
}

const ms = (seconds: number | undefined) => (seconds === undefined ? undefined : seconds * 1000);

/**
 * A module's parameters reach insmod in a guest shell script: names are C
 * identifiers, and string values carry no space, quote or shell character.
 */
function moduleParams(at: Located, path: Path, raw: ModuleParams | undefined): ModuleParams {
  for (const [name, v] of Object.entries(raw ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw at.error([...path, 'params'], `"${name}" is not a module parameter name`, name);
    if (typeof v === 'string' && !/^[A-Za-z0-9_.,:/+-]*$/.test(v))
      throw at.error([...path, 'params', name], `"${v}": a parameter's text may hold letters, digits and _ . , : / + - only`);
  }
  return { ...(raw ?? {}) };
}

/** A kernel test step: its module, parameters and cases checked against the catalogue now, not on a booted guest. */
function kernelTest(at: Located, path: Path, raw: NonNullable<RawStep['kernel_test']>): Action {
  const t = KERNEL_TESTS[raw.module]!;
  // The scenario's own; the module's defaults are added per kernel version when the step runs (ktest paramsOn).
  const params: Record<string, number | boolean> = {};
  for (const [name, v] of Object.entries(raw.params ?? {})) {
    const spec = t.params[name];
    if (!spec) {
      const known = Object.keys(t.params);
      throw at.error(
        [...path, 'params'],
        `${t.module} has no parameter "${name}" (${known.length ? `it has: ${known.join(', ')}` : 'it takes none'})`,
        name,
      );
    }
    if (spec.type === 'bool' && typeof v !== 'boolean') throw at.error([...path, 'params', name], `"${name}" is true or false`);
    if (spec.type === 'int') {
      if (typeof v !== 'number' || !Number.isInteger(v)) throw at.error([...path, 'params', name], `"${name}" is a whole number`);
      if ((spec.min !== undefined && v < spec.min) || (spec.max !== undefined && v > spec.max))
        throw at.error([...path, 'params', name], `"${name}" must be between ${spec.min} and ${spec.max}`);
    }
    if (name === t.caseMask && raw.cases) throw at.error([...path, 'params', name], `give "cases" or "${name}", not both`);
    params[name] = v;
  }
  (raw.cases ?? []).forEach((c, i) => {
    if (!t.cases.some((x) => x.name === c))
      throw at.error([...path, 'cases', i], `${t.module} has no case "${c}" (its cases: ${t.cases.map((x) => x.name).join(', ')})`);
  });
  if (t.caseMask && raw.cases) params[t.caseMask] = raw.cases.reduce((m, c) => m | (1 << t.cases.find((x) => x.name === c)!.bit!), 0);
  return { kind: 'kernel-test', module: t.module, params, cases: raw.cases, timeoutMs: raw.timeout && raw.timeout * 1000 };
}

/** Kernel command-line parameters: name or name=value, nothing a shell or QEMU's -append could read otherwise. */
function cmdline(at: Located, raw: string | string[] | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const list = Array.isArray(raw) ? raw : raw.split(/\s+/).filter(Boolean);
  list.forEach((p, i) => {
    if (!/^[A-Za-z0-9_.-]+(=[A-Za-z0-9_.,:/+-]*)?$/.test(p))
      throw at.error(
        Array.isArray(raw) ? ['boot', 'cmdline', i] : ['boot', 'cmdline'],
        `"${p}" is not a kernel parameter (name or name=value: letters, digits and _ . - , : / +)`,
      );
  });
  return list.length ? list : undefined;
}

function pattern(p: SplatKind | SplatPattern): SplatPattern {
  return typeof p === 'string' ? { kind: p } : p;
}

function matchers(at: Located, path: Path, raw: Record<string, unknown>): Record<string, { matcher: Matcher; pos: Pos }> {
  const out: Record<string, { matcher: Matcher; pos: Pos }> = {};
  for (const [k, v] of Object.entries(raw)) {
    const m = v as Matcher;
    if (path[path.length - 1] === 'meminfo' && !(MEMINFO_FIELDS as readonly string[]).includes(k)) {
      throw at.error(path, `unknown /proc/meminfo field "${k}" (e.g. MemFree, VmallocUsed, SUnreclaim, Slab)`, k);
    }
    // Size expressions in comparisons are checked now, not at run time.
    if (typeof m === 'object') {
      for (const [op, val] of Object.entries(m)) if (typeof val === 'string') size(at, [...path, k, op], val, STEP_NAMES);
    }
    out[k] = { matcher: m, pos: at.pos(path, k) };
  }
  return out;
}

function expectBlock(at: Located, path: Path, raw: Record<string, unknown>): GuardedExpect {
  const out: Expect = { facts: {} };
  let when: GuardedExpect['when'];
  for (const [k, v] of Object.entries(raw)) {
    if (k === 'when') {
      try {
        when = parsePredicate(String(v), STEP_NAMES);
      } catch (e) {
        if (!(e instanceof SizeSyntaxError)) throw e;
        throw at.error([...path, k], `bad condition "${String(v)}": ${e.message}`);
      }
    } else if (k === 'dmesg') {
      const d = v as { has?: (SplatKind | SplatPattern)[]; none?: (SplatKind | SplatPattern)[] };
      out.dmesg = { has: d.has?.map(pattern), none: d.none?.map(pattern), pos: at.pos(path, k) };
    } else if (k === 'crash') {
      out.crash = { ...pattern(v as SplatKind | SplatPattern), pos: at.pos(path, k) };
    } else if (k === 'meminfo') {
      out.meminfo = matchers(at, [...path, k], v as Record<string, unknown>);
    } else {
      Object.assign(out.facts, matchers(at, path, { [k]: v }));
    }
  }
  return { when, expect: out };
}

function expectations(at: Located, path: Path, raw: RawStep['expect']): GuardedExpect[] {
  if (raw === undefined) return [];
  if (Array.isArray(raw)) return raw.map((b, i) => expectBlock(at, [...path, i], b));
  return [expectBlock(at, path, raw)];
}

/**
 * A step's `inject`: only an allocation the guest-side task makes itself
 * can be the Nth (fail-nth is per task and read only in task context), so
 * only alloc steps in process or atomic context take it.
 */
function inject(at: Located, path: Path, act: Action, raw: RawStep['inject']): Inject | undefined {
  if (!raw) return undefined;
  if (!INJECTABLE.includes(act.kind))
    throw at.error(path, `a ${act.kind} step cannot take inject: only ${INJECTABLE.join(' and ')} steps make allocations of their own`);
  if (act.kind === 'alloc' && (act.ctx === 'softirq' || act.ctx === 'hardirq'))
    throw at.error(path, `inject needs task context: the kernel reads fail-nth only in_task(), not in ${act.ctx}`);
  return { nth: raw.nth, kind: raw.kind ?? 'any', pos: at.pos(path) };
}

/** Kinds of step whose own allocations a step's `inject` can fail. */
const INJECTABLE: readonly string[] = ['alloc'];

function sweep(at: Located, path: Path, raw: RawStep['sweep']): Sweep | undefined {
  if (!raw) return undefined;
  const s = raw.size;
  if (Array.isArray(s)) return { values: s.map((v, i) => size(at, [...path, 'size', i], v)) };
  return {
    values: [],
    range: { from: size(at, [...path, 'size', 'from'], s.from), to: size(at, [...path, 'size', 'to'], s.to), factor: s.factor ?? 2 },
  };
}

function claimRef(at: Located, id: string, c: { if_passes: 'holds' | 'fails'; shows?: string; step?: string }): ClaimRef {
  if (c.shows !== undefined) {
    try {
      parseShows(c.shows);
    } catch (e) {
      if (!(e instanceof ShowsSyntaxError)) throw e;
      throw at.error(['claims', id, 'shows'], `bad observation "${c.shows}": ${e.message} (at character ${e.offset + 1})`);
    }
  }
  return { id, ifPasses: c.if_passes, shows: c.shows, step: c.step };
}

function build(raw: RawScenario, at: Located): Scenario {
  const claims: ClaimRef[] = Array.isArray(raw.claims)
    ? raw.claims.map((id) => ({ id, ifPasses: 'holds' as const }))
    : Object.entries(raw.claims ?? {}).map(([id, c]) => (typeof c === 'string' ? { id, ifPasses: c } : claimRef(at, id, c)));
  claims.forEach((c, i) => {
    if (!(c.id in CLAIMS)) {
      throw at.error(
        Array.isArray(raw.claims) ? ['claims', i] : ['claims'],
        `unknown claim id "${c.id}" (known: ${Object.keys(CLAIMS).join(', ')})`,
        Array.isArray(raw.claims) ? undefined : c.id,
      );
    }
  });
  if (raw.steps.length > LOAD_LIMITS.steps)
    throw at.error(['steps'], `${raw.steps.length} steps; a scenario may have at most ${LOAD_LIMITS.steps}`);
  const held = new Set<string>();
  // Relative to the scenario file, as an editor shows it.
  const moduleDir = raw.module === undefined ? undefined : resolvePath(dirname(at.file), raw.module);
  const steps: Step[] = raw.steps.map((s, i) => {
    const path: Path = ['steps', i];
    // Names reach terminals, KTAP and JUnit: no escape sequences or other control characters.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    if (s.name !== undefined && /[\u0000-\u001f\u007f-\u009f]/.test(s.name))
      throw at.error([...path, 'name'], 'a step name may not contain control characters');
    const act = action(at, path, s);
    if (act.kind.startsWith('module-')) {
      if (moduleDir) (act as { dir?: string }).dir = moduleDir;
    }
    if (act.kind === 'alloc' && act.hold) held.add(act.hold);
    if ((act.kind === 'free' || act.kind === 'inspect' || act.kind === 'scan') && !held.has(act.name)) {
      throw at.error(
        act.kind === 'scan' ? [...path, 'scan', 'name'] : [...path, act.kind],
        `no earlier step holds an allocation named "${act.name}"`,
      );
    }
    if (act.kind === 'free') held.delete(act.name);
    const expect = expectations(at, [...path, 'expect'], s.expect);
    if (act.kind === 'kernel-test' && s.expect !== undefined)
      throw at.error([...path, 'expect'], "a kernel test's cases are judged by the module itself: leave out expect");
    const sw = sweep(at, [...path, 'sweep'], s.sweep);
    if (sw && act.kind !== 'alloc' && act.kind !== 'time') throw at.error([...path, 'sweep'], 'only alloc and time steps can sweep sizes');
    if (sw && act.kind === 'alloc' && act.hold)
      throw at.error([...path, 'alloc', 'hold'], 'a swept step cannot hold its allocations under one name');
    if (sw && expect.some((b) => b.expect.crash)) throw at.error([...path, 'sweep'], 'a swept step cannot expect a crash');
    const inj = inject(at, [...path, 'inject'], act, s.inject);
    return {
      index: i,
      name: s.name ?? defaultStepName(act, s),
      action: act,
      expect,
      sweep: sw,
      ...(inj ? { inject: inj } : {}),
      requires: s.requires,
      pos: at.pos(path),
    };
  });
  for (const c of claims) {
    if (c.step !== undefined && !steps.some((s) => s.name === c.step)) {
      throw at.error(['claims', c.id, 'step'], `no step is named "${c.step}" (steps: ${steps.map((s) => s.name).join('; ')})`);
    }
  }
  const crashes = steps.filter((s) => s.expect.some((b) => b.expect.crash));
  for (const c of crashes) {
    if (c !== steps[steps.length - 1]) {
      throw at.error(
        ['steps', c.index, 'expect'],
        'a step that expects a crash must be the last step of its scenario (the VM does not survive it)',
      );
    }
  }
  return {
    file: at.file,
    name: raw.name,
    description: raw.description ?? '',
    claims,
    requires: raw.requires,
    cmdline: cmdline(at, raw.boot?.cmdline),
    module: moduleDir === undefined ? undefined : { dir: moduleDir, pos: at.pos(['module']) },
    steps,
    expectsCrash: crashes.length > 0,
    churns: steps.some((s) => s.action.kind === 'kernel-test'),
    leavesFragmented: leavesFragmented(steps),
  };
}

/** A `fragment` step with no `unfragment` after it: the scenario ends with memory fragmented. */
export function leavesFragmented(steps: readonly Step[]): boolean {
  const kinds = steps.map((s) => s.action.kind);
  return kinds.lastIndexOf('fragment') > kinds.lastIndexOf('unfragment');
}

function defaultStepName(a: Action, raw: RawStep): string {
  const text = raw.alloc?.size ?? raw.time?.size;
  const amount = (x: { api: Api; order?: number }) => (text !== undefined ? String(text) : x.api === 'pages' ? `order ${x.order}` : 'size');
  switch (a.kind) {
    case 'alloc':
      return `${a.api}(${amount(a)}, ${a.gfp.join('|') || '-'}) in ${a.ctx}`;
    case 'time':
      return `time ${a.api}(${amount(a)}) x${a.repeat}`;
    case 'free':
    case 'inspect':
      return `${a.kind} ${a.name}`;
    case 'scan':
      return `scan ${a.name}`;
    case 'pause':
      return `pause ${a.ms} ms`;
    case 'fragment':
      return 'fragment free memory';
    case 'unfragment':
      return 'release fragmentation';
    case 'query':
      return `query ${a.what}`;
    case 'kernel-test':
      return a.module;
    case 'module-load':
      return 'load the module';
    case 'module-exec':
      return `exercise: ${a.command.split('\n')[0]!.slice(0, 60)}`;
    case 'module-unload':
      return 'unload the module';
    case 'module-cycles':
      return `${a.count} load/exercise/unload cycles`;
    case 'module-sweep':
      return `loads with each allocation failed in turn (at most ${a.cap})`;
  }
}
