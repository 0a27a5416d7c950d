/**
 * Typos on the command line end in one line naming what is valid, exit 2,
 * before anything is built or booted — never "internal error" and a stack.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../harness/paths.ts';

const CLI = join(PROJECT_ROOT, 'bin', 'kharness.js');
const kharness = (...args: string[]) =>
  execa('node', [CLI, ...args], {
    reject: false,
    env: { CI: 'true', NO_COLOR: '1', KHARNESS_CACHE: '/nonexistent/kharness-cache' },
    timeout: 60_000,
  });

// Each case is a whole CLI process, mostly waiting on its own start: four at a time keeps both cores busy.
describe.concurrent('bad command lines', () => {
  it.each([
    [['build', '--arch', 'arm', '--kernel', '6.1'], /^kharness: unknown arch "arm"\nKnown arches: x86_64, arm64\.$/],
    [['run', '--arch', 'arm'], /^kharness: unknown arch "arm"\nKnown arches: x86_64, arm64\.$/],
    [['run', '--arch', 'x86_64,bogus'], /^kharness: unknown arch "bogus"/],
    [['run', '--kernel', '6.13'], /^kharness: unknown kernel "6\.13"\nKnown kernels: .*6\.1.*6\.12/],
    [['build', '--kernel', '6.13'], /^kharness: unknown kernel "6\.13"\nKnown kernels: /],
    [['run', '--shard', '5/2'], /^kharness: bad --shard "5\/2"\nUse --shard i\/n with 1 <= i <= n/],
    [['run', '--boot-timeout', '3000000'], /^kharness: --boot-timeout takes a number of seconds above 0 and at most 86400, not "3000000"/],
    [['run', '--accel', 'kvmm'], /^kharness: --accel must be auto, kvm or tcg, not "kvmm"/],
    [['bisect', '--arch', 'arm', '--kernels', '6.1,6.12', '--scenario', 'scenarios/kzalloc-zeroing.yaml'], /^kharness: unknown arch "arm"/],
    [['frobnicate'], /^kharness: unknown command "frobnicate"\nCommands: run, /],
    [['run', 'scenarios/kzalloc-zeroing.yaml', '--out', '/etc/passwd'], /^kharness: --out \/etc\/passwd exists and is not a directory\n/],
    [['run', 'scenarios/kzalloc-zeroing.yaml', '--out', '/proc/kharness'], /^kharness: cannot write results to \/proc\/kharness: /],
    [['run', 'test/fixtures'], /^kharness: no scenario files \(\*\.yaml\) in test\/fixtures/],
    [['run', 'test/fixtures/README.md', '--arch', 'x86_64'], /^kharness: test\/fixtures\/README\.md:\d+:\d+: YAML: /],
    [['run', '--kernel', 'debian:'], /^kharness: bad kernel name "debian:": "" is not a Debian kernel version like 6\.1\.0-56/],
    [['run', '--kernel', 'debian:1..2..3'], /^kharness: bad kernel name "debian:1\.\.2\.\.3": .* more than one "\.\."/],
    [['run', '--kernel', 'debian:6.1.0-56-16k', '--arch', 'x86_64'], /^kharness: no arch of x86_64 has Debian's 16k flavour/],
    [['run', '--kernel', 'build:/nonexistent/linux'], /^kharness: build:\/nonexistent\/linux: \/nonexistent\/linux is not a directory/],
    [['build', '--fragment', '/nonexistent.config'], /^kharness: no fragment file \/nonexistent\.config/],
    [
      ['bisect', '--kernels', '6.1,6.12', '--find', 'bogus', '--scenario', 'scenarios/kzalloc-zeroing.yaml'],
      /^kharness: unknown --find "bogus"/,
    ],
    [['kernels', '--format', 'xml'], /^kharness: unknown --format "xml"/],
    [['shell', '--exec='], /^kharness: --exec needs a command/],
    [['shell', '--kernel', '6.1-64k', '--arch', 'x86_64', '--exec', 'true'], /^kharness: kernel 6\.1-64k does not run on x86_64/],
    [['run', '--repeat', '0'], /^kharness: --repeat takes a whole number of at least 1, not "0"/],
    [['run', '--threshold', '5x'], /^kharness: --threshold takes a relative change such as 5% or 0\.05, not "5x"/],
    [['run', '--threshold', '0%'], /^kharness: --threshold takes a relative change such as 5% or 0\.05, not "0%"/],
    [['run', '--baseline', '/nonexistent/base'], /^kharness: no such run: \/nonexistent\/base\n/],
    [['run', '--baseline', 'test/fixtures/README.md'], /^kharness: test\/fixtures\/README\.md: line 1 is not a JSON record/],
    [['run', '--history', '/etc/passwd'], /^kharness: --history \/etc\/passwd exists and is not a directory/],
    [['compare', 'test/fixtures'], /^kharness: compare takes two runs: BASE NEW\nkharness compare BASE_DIR NEW_DIR/],
    [['compare', '/nonexistent/a', '/nonexistent/b'], /^kharness: no such run: \/nonexistent\/a/],
    [['compare', 'a', 'b', '--format', 'xml'], /^kharness: unknown --format "xml"/],
    [['history'], /^kharness: history takes one directory/],
    [['history', '/nonexistent/h'], /^kharness: no history directory \/nonexistent\/h/],
    [['history', 'test/fixtures', '--last=0'], /^kharness: --last takes a whole number of at least 1, not "0"/],
    [
      ['bisect', '--kernels', '6.1,6.12', '--scenario', 'scenarios/alloc-cost.yaml', '--metric', 'alloc_ns_median'],
      /^kharness: --metric needs --step NAME/,
    ],
    [
      ['bisect', '--kernels', '6.1,6.12', '--scenario', 'scenarios/alloc-cost.yaml', '--metric', 'alloc_ns_medain', '--step', 'x'],
      /^kharness: unknown fact "alloc_ns_medain"/,
    ],
    [
      ['bisect', '--kernels', '6.1,6.12', '--scenario', 'scenarios/alloc-cost.yaml', '--metric', 'phys_runs', '--step', 'x'],
      /^kharness: --metric phys_runs is not a metric kharness knows the direction of\nSay which way is better/,
    ],
    [
      [
        'bisect',
        '--kernels',
        '6.1,6.12',
        '--scenario',
        'scenarios/alloc-cost.yaml',
        '--metric',
        'phys_runs',
        '--step',
        'x',
        '--better',
        'up',
      ],
      /^kharness: --better takes lower or higher, not "up"/,
    ],
    [
      ['bisect', '--kernels', '6.1,6.12', '--scenario', 'scenarios/alloc-cost.yaml', '--confirm', '0'],
      /^kharness: --confirm takes a whole number/,
    ],
  ])('kharness %j', async (args, message) => {
    const r = await kharness(...args);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr.trim()).toMatch(message);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
  });
});

describe('damaged results given to report', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kharness-report-'));
  const lines = readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'results-6.1-x86_64.jsonl'), 'utf8')
    .trim()
    .split('\n');

  it('reads a stream cut mid-line as incomplete, says so and exits 2', async () => {
    writeFileSync(join(dir, 'results.jsonl'), `${lines.slice(0, 20).join('\n')}\n${lines[20]!.slice(0, 40)}`);
    const r = await kharness('report', dir, '--reporter', 'junit');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('this run has no end record (the harness was killed): its results are incomplete.');
  });

  it('refuses a stream with a bad line in the middle, naming the line', async () => {
    writeFileSync(join(dir, 'results.jsonl'), `${lines[0]}\n{oops\n${lines[1]}\n`);
    const r = await kharness('report', dir);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim().split('\n')[0]).toBe(`kharness: ${join(dir, 'results.jsonl')}: line 2 is not a JSON record`);
  });
});

describe('a scenario error', () => {
  it('exits 2 naming file:line:column before building or booting anything', async () => {
    // The cache is a path that cannot exist: a build or a boot would have to fail on it first.
    const f = join(mkdtempSync(join(tmpdir(), 'kharness-typo-')), 'typo.yaml');
    writeFileSync(f, 'name: typo\nsteps:\n  - alloc: { api: kmalloc, size: 4KiB, gpf: GFP_KERNEL }\n');
    const r = await kharness('run', f, '--arch', 'x86_64', '--kernel', '6.1');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${f}:3:40: unknown key "gpf"`);
    expect(r.stderr).not.toMatch(/building|booting|internal error|\n\s+at /);
  });
});

describe('compare --out', () => {
  it('creates the directory it is given, as run --out does, instead of failing on it', async () => {
    const run = join(PROJECT_ROOT, 'test', 'fixtures', 'results-6.1-x86_64.jsonl');
    const out = join(mkdtempSync(join(tmpdir(), 'kharness-compare-')), 'not', 'yet');
    const r = await kharness('compare', run, run, '--out', out);
    expect(r.stderr).not.toMatch(/internal error|ENOENT/);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8'))).toBeTypeOf('object');
  });
});
