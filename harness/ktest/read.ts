/**
 * Reading one run of a kernel test module: the kernel-log section its load
 * printed and what insmod said, into a result per case and one for the run.
 * Honest: every case the module should have run on this kernel must appear,
 * a plan with fewer results or a run whose end never printed is truncated
 * (an error, never a pass), expected failures are reported as such (and a
 * pass where a failure was expected too), and a kernel report is forgiven
 * only when an expected failure that ran is known to print it. Pure.
 */
import { readKtapSuite } from '../analysis/ktap.ts';
import { type Splat, splatMatches, stripTimestamp } from '../analysis/splats.ts';
import { compareVersions } from '../analysis/version.ts';
import type { CaseSpec, ExpectedFailure, KernelTestModule, Versions } from './catalog.ts';

export type CaseStatus = 'pass' | 'fail' | 'skip' | 'expected-fail' | 'unexpected-pass' | 'error';
export type Numbers = Record<string, number>;

export interface CaseResult {
  name: string;
  status: CaseStatus;
  reason?: string;
  facts: Numbers;
  /** The log lines that show the verdict (KTAP diagnostics, the summary line). */
  evidence: string[];
}

export interface ModuleRun {
  status: 'pass' | 'fail' | 'error';
  reason?: string;
  /** How loading ended: "0" or an errno name. */
  completion: string;
  facts: Numbers;
  cases: CaseResult[];
  /** Kernel reports an expected failure that ran is known to print. */
  known: Splat[];
  unexpected: Splat[];
}

export interface RunInput {
  /** The kernel-log section of the load. */
  lines: readonly string[];
  /** insmod's exit status and what it printed. */
  load: { rc: number; output: string };
  params: Record<string, number | boolean>;
  /** The kernel's version ("6.1.192"). */
  version: string;
  config: ReadonlyMap<string, string>;
  /** The cases the step asked for (undefined: all). */
  selected?: readonly string[];
  /** Whether an expected failure's `when:` holds on this guest. */
  holds(when: string): boolean;
  splats: readonly Splat[];
  /** The run did not finish: why (the guest died, the step timed out). */
  cut?: string;
}

/** strerror() texts of the errnos a module's init returns, as insmod (kmod or busybox) prints them. */
export const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EFAULT: 'Bad address',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  ENODEV: 'No such device',
  EINVAL: 'Invalid argument',
  ENOEXEC: 'Exec format error',
  ENOSPC: 'No space left on device',
  ETIMEDOUT: 'Connection timed out',
  ECANCELED: 'Operation canceled',
};

/** How a load ended: "0", an errno name, or "failed (...)" when insmod's message names none. */
export function completionOf(load: { rc: number; output: string }): string {
  if (load.rc === 0) return '0';
  const hit = Object.entries(ERRNO_TEXT).find(([, text]) => load.output.includes(text));
  return hit ? hit[0] : `failed (exit ${load.rc}: ${load.output.trim().split('\n').pop() ?? ''})`;
}

/** The kernel version's number part ("6.1.192-cloud-amd64" → "6.1.192"). */
export function versionOf(release: string): string {
  return /^\d+(?:\.\d+){0,2}/.exec(release)?.[0] ?? release;
}

export function inVersions(v: Versions, version: string): boolean {
  const ver = versionOf(version);
  if (v.since && compareVersions(ver, v.since) < 0) return false;
  if (v.until && compareVersions(ver, v.until) >= 0) return false;
  return true;
}

const on = (config: ReadonlyMap<string, string>, o: string) => ['y', 'm'].includes(config.get(o) ?? 'n');

/** The cases this kernel's module has, in the table's order. */
export function casesOn(t: KernelTestModule, version: string, config: ReadonlyMap<string, string>): CaseSpec[] {
  return t.cases.filter((c) => inVersions(c, version) && !(c.unlessConfig ?? []).some((o) => on(config, o)));
}

/**
 * The parameters a module is loaded with on this kernel: kharness's defaults
 * the version has (5.10's test_vmalloc has no nr_threads), then the
 * scenario's. With no case chosen, the case mask names every case this
 * version has, so a run means the same on every version: 7.2's test_vmalloc
 * runs only 3 of its 13 cases by default.
 */
export function paramsOn(
  t: KernelTestModule,
  params: Readonly<Record<string, number | boolean>>,
  version: string,
  config: ReadonlyMap<string, string>,
): Record<string, number | boolean> {
  const defaults = Object.entries(t.defaults).filter(([name]) => !t.params[name] || inVersions(t.params[name]!, version));
  const out = { ...Object.fromEntries(defaults), ...params };
  if (!t.caseMask || params[t.caseMask] !== undefined) return out;
  const mask = casesOn(t, version, config).reduce((m, c) => (c.bit === undefined ? m : m | (1 << c.bit)), 0);
  return { ...out, [t.caseMask]: mask };
}

interface Raw {
  cases: Map<string, { status: 'pass' | 'fail' | 'skip' | 'error'; facts: Numbers; evidence: string[]; reason?: string }>;
  /** Cases known to have started but not finished, or other signs of a cut log. */
  truncated?: string;
  facts: Numbers;
}

function readSummary(lines: string[], workers: number): Raw {
  const SUMMARY = /^Summary: (\S+) passed: (\d+) failed: (\d+)(?: xfailed: (\d+))? repeat: (\d+) loops: (\d+) avg: (\d+) usec$/;
  // One worker per thread (nr_threads, 5.13 on); 5.10 ran one per CPU and named them so.
  const TOOK = /^All test took (?:worker|CPU)(\d+)=(\d+) cycles$/;
  const perWorker: Map<
    string,
    { passed: number; failed: number; xfailed: number; repeat: number; loops: number; avg: number; line: string }
  >[] = [];
  let pending = new Map<string, (typeof perWorker)[number] extends Map<string, infer V> ? V : never>();
  const facts: Numbers = {};
  for (const text of lines) {
    const s = SUMMARY.exec(text);
    if (s) {
      pending.set(s[1]!, { passed: +s[2]!, failed: +s[3]!, xfailed: +(s[4] ?? 0), repeat: +s[5]!, loops: +s[6]!, avg: +s[7]!, line: text });
      continue;
    }
    const t = TOOK.exec(text);
    if (t) {
      perWorker[Number(t[1])] = pending;
      facts[`cycles_worker${t[1]}`] = Number(t[2]);
      pending = new Map();
    }
  }
  const done = perWorker.filter(Boolean).length;
  facts.workers = done;
  const cases: Raw['cases'] = new Map();
  const names = new Set(perWorker.flatMap((w) => (w ? [...w.keys()] : [])));
  for (const name of names) {
    const got = perWorker.map((w) => w?.get(name)).filter((x) => x !== undefined);
    const failed = got.reduce((a, x) => a + x.failed, 0);
    // 7.2's module counts a failure of a case it expects to fail apart (xfailed): a failure all the same, which
    // the catalog's expected failures then name.
    const xfailed = got.reduce((a, x) => a + x.xfailed, 0);
    const avgs = got.map((x) => x.avg);
    cases.set(name, {
      // A worker that finished without this case's summary lost a line of the log: no verdict on the rest.
      status: got.length < done ? 'error' : failed + xfailed > 0 ? 'fail' : 'pass',
      facts: {
        passed: got.reduce((a, x) => a + x.passed, 0),
        failed,
        xfailed,
        repeat: got[0]!.repeat,
        loops: got[0]!.loops,
        avg_usec: Math.round(avgs.reduce((a, x) => a + x, 0) / avgs.length),
        max_avg_usec: Math.max(...avgs),
      },
      evidence: got.map((x) => x.line),
      reason: got.length < done ? `only ${got.length} of ${done} workers reported it` : undefined,
    });
  }
  const truncated =
    done < workers
      ? `${done} of ${workers} workers printed "All test took" (the log ends before the rest)`
      : pending.size
        ? 'summary lines after the last "All test took" line'
        : undefined;
  return { cases, truncated, facts };
}

function readLines(lines: string[], r: { pass: RegExp; fail: RegExp; done: RegExp }): Raw {
  const cases: Raw['cases'] = new Map();
  let done = false;
  for (const text of lines) {
    const m = r.pass.exec(text) ?? r.fail.exec(text);
    if (m?.groups?.case) {
      const numbers = Object.fromEntries(
        Object.entries(m.groups)
          .filter(([k, v]) => k !== 'case' && /^\d+$/.test(v ?? ''))
          .map(([k, v]) => [k, Number(v)]),
      );
      cases.set(m.groups.case, { status: r.pass.test(text) ? 'pass' : 'fail', facts: numbers, evidence: [text] });
    } else if (r.done.test(text)) done = true;
  }
  return { cases, facts: {}, truncated: done ? undefined : 'the line that ends the run never printed' };
}

function readProgress(lines: string[], r: { start: RegExp; done: RegExp }): Raw {
  const cases: Raw['cases'] = new Map();
  let running: string | undefined;
  let done = false;
  for (const text of lines) {
    const m = r.start.exec(text);
    if (m?.groups?.case) {
      if (running) cases.get(running)!.status = 'pass';
      running = m.groups.case;
      cases.set(running, { status: 'fail', facts: {}, evidence: [text], reason: 'it never finished' });
    } else if (r.done.test(text)) {
      if (running) {
        const c = cases.get(running)!;
        c.status = 'pass';
        c.reason = undefined;
      }
      running = undefined;
      done = true;
    }
  }
  for (const c of cases.values()) if (c.status === 'pass') c.reason = undefined;
  // A case still running when the log ends is cut short, not failed.
  if (running) cases.delete(running);
  return { cases, facts: {}, truncated: done ? undefined : `the log ends while "${running ?? 'the first case'}" runs` };
}

function readKtap(lines: string[], suite: string): Raw {
  const s = readKtapSuite(lines, suite);
  if (!s) return { cases: new Map(), facts: {}, truncated: `the KTAP block of suite ${suite} never started` };
  const cases: Raw['cases'] = new Map();
  for (const c of s.cases) {
    cases.set(c.name, {
      status: c.status,
      facts: {},
      evidence: [
        ...c.diagnostics,
        `${c.status === 'fail' ? 'not ok' : 'ok'} ${c.number} ${c.name}${c.directive ? ` # ${c.directive}` : ''}`,
      ],
      reason: c.status === 'skip' ? c.directive : undefined,
    });
  }
  const truncated =
    s.plan !== undefined && s.cases.length < s.plan
      ? `the plan says 1..${s.plan} and the log has ${s.cases.length} results`
      : !s.ended
        ? `the suite's own result line never printed`
        : undefined;
  return { cases, facts: { planned: s.plan ?? s.cases.length }, truncated };
}

function expectedFailure(t: KernelTestModule, name: string, i: RunInput): ExpectedFailure | undefined {
  return t.expectedFailures.find((e) => e.cases.includes(name) && inVersions(e, i.version) && (!e.when || i.holds(e.when)));
}

export function readRun(t: KernelTestModule, i: RunInput): ModuleRun {
  const lines = i.lines.flatMap((l) => stripTimestamp(l).split('\n'));
  const completion = completionOf(i.load);
  const wanted = casesOn(t, i.version, i.config)
    .map((c) => c.name)
    .filter((n) => !i.selected || i.selected.includes(n));
  // test_vmalloc clamps nr_threads to at least 1.
  const workers = Math.max(1, Number(i.params.nr_threads ?? 0));
  const r = t.reader;
  const raw =
    r.kind === 'ktap'
      ? readKtap(lines, r.suite)
      : r.kind === 'summary'
        ? readSummary(lines, workers)
        : r.kind === 'lines'
          ? readLines(lines, r)
          : readProgress(lines, r);
  const names = [...wanted, ...[...raw.cases.keys()].filter((n) => !wanted.includes(n) && (!i.selected || i.selected.includes(n)))];
  const loaded = t.completes.includes(completion);
  const cut = i.cut ?? (loaded ? raw.truncated : `loading ${t.module} ended with ${completion}`);
  const cases: CaseResult[] = names.map((name) => {
    const c = raw.cases.get(name);
    if (!c) {
      return {
        name,
        status: 'error',
        reason: `no result in the kernel log: ${cut ?? 'the module printed none for it'}`,
        facts: {},
        evidence: [],
      };
    }
    const xf = c.status === 'skip' || c.status === 'error' ? undefined : expectedFailure(t, name, i);
    // A case that may pass (the module's own xfail) and did is a pass like any other.
    if (!xf || (c.status === 'pass' && xf.mayPass))
      return { name, status: c.status, reason: c.reason, facts: c.facts, evidence: c.evidence };
    return c.status === 'fail'
      ? { name, status: 'expected-fail', reason: `expected to fail: ${xf.why}`, facts: c.facts, evidence: c.evidence }
      : { name, status: 'unexpected-pass', reason: `passed, but it is expected to fail: ${xf.why}`, facts: c.facts, evidence: c.evidence };
  });
  const ran = cases.filter((c) => c.status === 'expected-fail').map((c) => c.name);
  const forgiving = [
    ...(t.provokes ?? []),
    ...t.expectedFailures.filter((e) => e.cases.some((n) => ran.includes(n))).flatMap((e) => e.reports ?? []),
  ];
  const known = i.splats.filter((s) => forgiving.some((p) => splatMatches(s, p)));
  const unexpected = i.splats.filter((s) => !known.includes(s));
  const base = { completion, facts: raw.facts, cases, known, unexpected };
  if (i.cut) return { ...base, status: 'error', reason: i.cut };
  if (!loaded) {
    return {
      ...base,
      status: 'error',
      reason: `loading ${t.module} ended with ${completion}; it completes with ${t.completes.join(' or ')}: ${i.load.output.trim()}`,
    };
  }
  if (raw.truncated) return { ...base, status: 'error', reason: `the results are cut short: ${raw.truncated}` };
  const missing = cases.filter((c) => c.status === 'error');
  if (missing.length)
    return { ...base, status: 'error', reason: `${missing.length} case(s) have no result: ${missing.map((c) => c.name).join(', ')}` };
  const bad = cases.filter((c) => c.status === 'fail' || c.status === 'unexpected-pass');
  if (unexpected.length)
    return { ...base, status: 'fail', reason: `kernel report(s) during the run: ${unexpected.map((s) => s.title).join('; ')}` };
  if (bad.length) return { ...base, status: 'fail', reason: `${bad.length} case(s) failed: ${bad.map((c) => c.name).join(', ')}` };
  return { ...base, status: 'pass' };
}
