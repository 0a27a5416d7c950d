/**
 * The fault suite: injects faults into real runs on real guests and prints
 * what survived. Not a timed test: it prints figures.
 *
 *   npm run bench:faults [-- --requests N] [-- --arch x86_64 --kernel 6.1]
 *
 * Faults: SIGINT, SIGTERM and SIGKILL of the harness at boot, mid-step and
 * mid-sweep; QEMU killed and QEMU stopped mid-step; two runs at once on one
 * cache; a damaged cache entry of each kind (kernel, module, guest userspace);
 * then hostile probe requests sent to a live guest (random bytes, overflowing
 * numbers, unknown and duplicate keys, huge lines, NUL bytes, unknown hold
 * names, absurd orders and page counts, memory exhaustion by holds).
 *
 * Prints: faults injected, orphans left (QEMU processes of a faulted run still
 * alive), results lost (steps the terminal reported that results.jsonl lacks,
 * or a results.jsonl that no longer reads), kernel splats caused by bad
 * requests, and requests not answered with an error. Every target is 0.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa, type ResultPromise } from 'execa';
import { parseSplats } from '../harness/analysis/splats.ts';
import { killAll } from '../harness/guest/processes.ts';
import { cacheRoot, PROJECT_ROOT } from '../harness/paths.ts';
import { CTL } from '../harness/probe/client.ts';
import { parseResponse } from '../harness/probe/protocol.ts';
import { parseResults } from '../harness/results/records.ts';
import { DEFAULT_TIMEOUTS } from '../harness/run/machine.ts';
import { prepareReal } from '../harness/run/target.ts';

const { values: flags } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000' },
    arch: { type: 'string', default: 'x86_64' },
    kernel: { type: 'string', default: '6.1' },
    /** Run one part only: signals, cache or probe. */
    only: { type: 'string' },
  },
});
const CLI = join(PROJECT_ROOT, 'bin', 'kharness.js');
const target = ['--arch', String(flags.arch), '--kernel', String(flags.kernel)];
const figures = { faults: 0, orphans: 0, lost: 0, splats: 0, unanswered: 0 };
const notes: string[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The scenarios faults are injected into: a long step, a long sweep, or a quick run. */
const SCENARIOS = {
  step: `name: faulted
steps:
  - name: quick
    alloc: { api: kmalloc, size: 64 }
  - name: busy
    time: { api: vmalloc, size: 16MiB, repeat: 10000 }
`,
  sweep: `name: faulted
steps:
  - name: quick
    alloc: { api: kmalloc, size: 64 }
  - name: sweep
    sweep: { size: { from: 8, to: 4MiB, factor: 4 } }
    time: { api: vmalloc, repeat: 5000 }
`,
  quick: `name: quick
steps:
  - alloc: { api: kmalloc, size: 64 }
    expect: { ok: true }
  - alloc: { api: vmalloc, size: 1MiB }
    expect: { ok: true }
`,
} as const;

function scenario(dir: string, kind: keyof typeof SCENARIOS = 'step'): string {
  const f = join(dir, `${kind}.yaml`);
  writeFileSync(f, SCENARIOS[kind]);
  return f;
}

async function qemusUnder(path: string): Promise<number> {
  const r = await execa('pgrep', ['-af', 'qemu-system'], { reject: false });
  if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error('pgrep cannot run: orphans cannot be counted');
  return r.stdout.split('\n').filter((l) => l.includes(path)).length;
}

function waitFor(p: ResultPromise, re: RegExp, ms: number): Promise<boolean> {
  let seen = '';
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    const on = (b: Buffer) => {
      seen += b.toString();
      if (re.test(seen)) {
        clearTimeout(t);
        resolve(true);
      }
    };
    p.stdout?.on('data', on);
    p.stderr?.on('data', on);
  });
}

/** Steps the terminal reported as finished that results.jsonl does not have (or 1 if it does not read at all). */
function lostResults(out: string, terminal: string): number {
  const file = join(out, 'results.jsonl');
  if (!existsSync(file)) return /[✓✗!] /.test(terminal) ? 1 : 0;
  let names: string[];
  try {
    names = parseResults(readFileSync(file, 'utf8')).flatMap((r) => (r.type === 'step' ? [r.name] : []));
  } catch {
    return 1;
  }
  const shown = [...terminal.matchAll(/^ {4}[✓✗!-] (.+?)(?: \(expected crash\)| — .*)? \d+ ms$/gm)].map((m) => m[1]!);
  return shown.filter((n) => !names.includes(n)).length;
}

async function inject(
  name: string,
  when: RegExp,
  act: (p: ResultPromise, dir: string) => Promise<void>,
  extra: string[] = [],
  kind: keyof typeof SCENARIOS = 'step',
) {
  const dir = mkdtempSync(join(tmpdir(), 'kharness-fault-'));
  const out = join(dir, 'out');
  const p = execa('node', [CLI, 'run', scenario(dir, kind), ...target, '--out', out, ...extra], {
    reject: false,
    all: true,
    env: { CI: 'true', NO_COLOR: '1' },
  });
  const reached = await waitFor(p, when, 20 * 60_000);
  if (reached) await act(p, dir);
  const r = await p;
  await sleep(1000);
  const orphans = await qemusUnder(dir);
  const lost = lostResults(out, r.stdout ?? '');
  figures.faults++;
  figures.orphans += orphans;
  figures.lost += lost;
  const ending = (r.all ?? '').split('\n').filter((l) => /^kharness:|^\s+[!✗] (busy|sweep)/.test(l))[0] ?? '';
  notes.push(
    `${name.padEnd(34)} exit ${String(r.exitCode ?? r.signal).padEnd(7)} orphans ${orphans}  lost ${lost}  ${ending.trim().slice(0, 90)}`,
  );
  await execa('pkill', ['-CONT', '-f', `qemu-system.*${dir}`], { reject: false });
  await execa('pkill', ['-KILL', '-f', `qemu-system.*${dir}`], { reject: false });
}

const atBoot = /booting /;
const midStep = /✓ quick/;
const midSweep = /✓ sweep \[/;

async function runFaults(): Promise<void> {
  for (const [sig, label] of [
    ['SIGINT', 'SIGINT'],
    ['SIGTERM', 'SIGTERM'],
    ['SIGKILL', 'SIGKILL'],
  ] as const) {
    await inject(`${label} at boot`, atBoot, async (p) => void p.kill(sig));
    await inject(`${label} mid-step`, midStep, async (p) => {
      await sleep(800);
      p.kill(sig);
    });
    await inject(
      `${label} mid-sweep`,
      midSweep,
      async (p) => {
        await sleep(1500);
        p.kill(sig);
      },
      [],
      'sweep',
    );
  }
  await inject('QEMU killed mid-step', midStep, async (_p, dir) => {
    await sleep(800);
    await execa('pkill', ['-KILL', '-f', `qemu-system.*${dir}`], { reject: false });
  });
  await inject(
    'QEMU stopped mid-step',
    midStep,
    async (_p, dir) => {
      await sleep(800);
      await execa('pkill', ['-STOP', '-f', `qemu-system.*${dir}`], { reject: false });
    },
    ['--silence-timeout', '3'],
  );
  // Two runs at once on one cache: both finish, each with all its results.
  {
    const dirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'kharness-fault-')));
    const runs = dirs.map((d) =>
      execa('node', [CLI, 'run', scenario(d, 'quick'), ...target, '--out', join(d, 'out')], {
        reject: false,
        env: { CI: 'true', NO_COLOR: '1' },
      }),
    );
    const rs = await Promise.all(runs);
    figures.faults++;
    const orphans = (await Promise.all(dirs.map(qemusUnder))).reduce((a, b) => a + b, 0);
    const lost = rs.reduce((a, r, i) => a + lostResults(join(dirs[i]!, 'out'), r.stdout ?? ''), 0);
    figures.orphans += orphans;
    figures.lost += lost;
    notes.push(
      `${'two runs on one cache'.padEnd(34)} exit ${rs
        .map((r) => r.exitCode)
        .join('+')
        .padEnd(7)} orphans ${orphans}  lost ${lost}`,
    );
  }
}

/**
 * A copy of the cache (hard links) with entries of one kind damaged, and a run
 * over it: it must notice, rebuild and pass, never boot or load garbage. The
 * kernel faults use Debian's prebuilt kernel, whose rebuild is a download.
 */
async function damagedCache(): Promise<void> {
  const kernel = 'debian-6.1-cloud';
  const isPrebuilt = (meta: string) => readFileSync(meta, 'utf8').includes(`"kernel": "${kernel}"`);
  const kinds: [string, (root: string) => Promise<void>][] = [
    ['kernel image cut in half', async (r) => damage(r, 'kernels', isPrebuilt, (_e, meta) => halve(meta, r))],
    ['kernel meta.json of {}', async (r) => damage(r, 'kernels', isPrebuilt, async (_e, meta) => replace(meta, '{}', r))],
    [
      'module .ko missing',
      async (r) =>
        damage(
          r,
          'modules',
          () => true,
          async (e) => rm(join(e, 'kalloc_probe.ko'), { force: true }),
        ),
    ],
    [
      'guest initramfs missing',
      async (r) =>
        damage(
          r,
          'guest',
          () => true,
          async (e) => rm(join(e, 'base.cpio'), { force: true }),
        ),
    ],
  ];
  for (const [name, spoil] of kinds) {
    const copy = mkdtempSync(join(tmpdir(), 'kharness-cache-copy-'));
    await execa('cp', ['-al', `${cacheRoot()}/.`, copy]);
    // Entries written before paths were stored relative to the cache name the original's files: point them at the copy.
    for (const kind of ['kernels', 'modules', 'guest']) {
      await damage(
        copy,
        kind,
        () => true,
        async (_e, meta) => replace(meta, readFileSync(meta, 'utf8').replaceAll(`${cacheRoot()}/`, '$CACHE/'), copy),
      );
    }
    await spoil(copy);
    const dir = mkdtempSync(join(tmpdir(), 'kharness-fault-'));
    const f = join(dir, 'q.yaml');
    writeFileSync(f, 'name: q\nsteps:\n  - alloc: { api: kmalloc, size: 64 }\n    expect: { ok: true }\n');
    const r = await execa('node', [CLI, 'run', f, '--arch', 'x86_64', '--kernel', kernel, '--out', join(dir, 'out')], {
      reject: false,
      all: true,
      env: { CI: 'true', NO_COLOR: '1', KHARNESS_CACHE: copy },
      timeout: 30 * 60_000,
    });
    figures.faults++;
    const orphans = await qemusUnder(dir);
    figures.orphans += orphans;
    const noticed = /is damaged/.test(r.all ?? '');
    notes.push(
      `${name.padEnd(34)} exit ${String(r.exitCode).padEnd(7)} orphans ${orphans}  ${noticed ? 'noticed, rebuilt' : 'NOT noticed'}`,
    );
    if (!noticed || r.exitCode !== 0) figures.lost++;
    await rm(copy, { recursive: true, force: true });
  }
}

/** Applies spoil to every entry of a kind whose meta.json passes the filter (files are replaced, never written through a hard link). */
async function damage(root: string, kind: string, which: (meta: string) => boolean, spoil: (entry: string, meta: string) => Promise<void>) {
  for (const k of readdirSync(join(root, kind))) {
    const entry = join(root, kind, k);
    const meta = join(entry, 'meta.json');
    if (existsSync(meta) && which(meta)) await spoil(entry, meta);
  }
}

/** Replaces a file of the copy (never one of the real cache: the copy shares its files by hard links). */
async function replace(path: string, data: Buffer | string, copy: string) {
  if (!path.startsWith(`${copy}/`)) throw new Error(`refusing to touch ${path}: not in the cache copy ${copy}`);
  await rm(path, { force: true });
  writeFileSync(path, data);
}

async function halve(meta: string, copy: string) {
  const image = (JSON.parse(readFileSync(meta, 'utf8')) as { image: string }).image.replace('$CACHE', copy);
  const data = readFileSync(image);
  await replace(image, data.subarray(0, data.length >> 1), copy);
}

/** Hostile requests, each a line for the control file. */
function hostileRequests(n: number): string[] {
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const pick = <T>(xs: readonly T[]) => xs[rnd() % xs.length]!;
  const makers: (() => string)[] = [
    () => Array.from({ length: 1 + (rnd() % 80) }, () => String.fromCharCode(32 + (rnd() % 95))).join(''),
    () => `cmd=alloc api=kmalloc size=${'9'.repeat(1 + (rnd() % 40))}`,
    () => `cmd=alloc api=kmalloc size=-${rnd()}`,
    () => `cmd=alloc api=pages order=${pick(['32', '64', '4096', '4294967296', '18446744073709551616'])}`,
    () => `cmd=fragment pages=${pick(['999999999999', '18446744073709551615', '0x', '-1', '1e9'])}`,
    () => `cmd=${pick(['alloc', 'zones', 'constants', 'self', 'time'])} ${pick(['bogus', 'sizee', 'ctxx', 'x'])}=1`,
    () => `cmd=alloc api=kmalloc size=8 size=16`,
    () => `cmd=alloc cmd=free api=kmalloc size=8`,
    () => `cmd=free name=${pick(['nope', 'x'.repeat(40), '../etc', 'a b'])}`,
    () => `cmd=inspect name=never${rnd() % 1000}`,
    () => `cmd=alloc api=kmalloc size=8 gfp=${pick(['GFP_BOGUS', 'GFP_KERNEL|', '|', 'GFP_KERNEL||__GFP_ZERO', '0xffffffff'])}`,
    () => `cmd=alloc api=${pick(['malloc', 'KMALLOC', '', 'vmalloc;'])} size=8`,
    () => `cmd=alloc api=kmalloc size=8 ctx=${pick(['nmi', 'HARDIRQ', '', 'softirq2'])}`,
    () => `cmd=time api=kmalloc size=8 repeat=${pick(['0', '100000', '99999999999999999999'])}`,
    () => `cmd=${'x'.repeat(600 + (rnd() % 2000))}`,
    () => `seq=${pick(['-1', '99999999999999', 'abc'])} cmd=zones`,
    () => `cmd=alloc api=kmalloc size=8 fill=${pick(['256', '-1', '99999'])}`,
    () => `=${pick(['', 'x', '=='])}`,
    () => `cmd=alloc api=pages order=5 size=8`,
    () => 'cmd',
  ];
  return Array.from({ length: n }, () => pick(makers)());
}

function unanswered(request: string, what: string): void {
  figures.unanswered++;
  if (figures.unanswered <= 5) notes.push(`not refused: ${request.slice(0, 80)} (${what.slice(0, 80)})`);
}

async function hostileProbe(n: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kharness-fault-'));
  const prepared = await prepareReal({
    arch: String(flags.arch),
    kernel: String(flags.kernel),
    dir,
    settings: { memoryMb: 512, smp: 2, accel: 'auto', timeouts: DEFAULT_TIMEOUTS },
    log: { verbose: false, info: () => {}, warn: (m) => process.stderr.write(`warning: ${m}\n`) },
    buildSlot: (fn) => fn(),
    phase: () => {},
  });
  const m = await prepared.boot(1);
  const from = m.kmsg.length;
  let sent = 0;
  const t0 = Date.now();
  try {
    for (const line of hostileRequests(n)) {
      sent++;
      try {
        const resp = await m.request(line, 10_000);
        if (resp.status !== 'error') unanswered(line, 'answered ok');
      } catch (e) {
        unanswered(line, (e as Error).message);
      }
    }
    // NUL bytes cannot pass through the line relay's shell: they are written raw, one request each.
    for (const raw of ['cmd=zones seq=1\0 16', 'cmd=alloc\0 api=kmalloc size=8', '\0', 'cmd=constants\0']) {
      sent++;
      const r = await m.exec(`exec 3<>${CTL}; head -c ${Buffer.byteLength(raw) + 1} >&3; head -n 1 <&3`, {
        stdin: Buffer.from(`${raw}\n`, 'binary'),
        timeoutMs: 10_000,
      });
      const answer = r.stdout.trim();
      if (!answer || parseResponse(answer).status !== 'error') unanswered(JSON.stringify(raw), answer || 'no answer');
    }
    // Memory exhaustion by holds: valid requests until the module refuses; the guest must stay reachable.
    let held = 0;
    let refused = false;
    for (let i = 0; i < 64 && !refused; i++) {
      sent++;
      const r = await m.request(`cmd=alloc seq=${90000 + i} api=vmalloc size=16777216 ctx=process hold=h${i}`, 30_000);
      if (r.status === 'ok' && r.facts.ok) held++;
      else refused = r.errno === 'ENOMEM';
    }
    if (!refused) figures.unanswered++;
    if (!(await m.ping(5000))) {
      figures.unanswered++;
      notes.push('the guest stopped answering after the holds');
    }
    notes.push(`${sent} hostile requests in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${held} × 16 MiB held before the refusal`);
  } finally {
    const kernelLog = m.kmsg.slice(from);
    figures.splats += parseSplats(kernelLog).length;
    await m.close();
  }
}

const part = (name: string) => flags.only === undefined || flags.only === name;
try {
  if (part('signals')) await runFaults();
  if (part('cache')) await damagedCache();
  if (part('probe')) await hostileProbe(Number(flags.requests));
} finally {
  killAll();
}
for (const n of notes) console.log(`  ${n}`);
console.log(`faults injected: ${figures.faults}`);
console.log(`orphans left: ${figures.orphans}`);
console.log(`results lost: ${figures.lost}`);
console.log(`kernel splats caused by bad requests: ${figures.splats}`);
console.log(`requests not answered with an error: ${figures.unanswered}`);
