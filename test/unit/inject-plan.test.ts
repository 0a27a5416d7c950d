import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../harness/analysis/kconfig.ts';
import { capabilitiesOf, featureUnmet, injectUnmet } from '../../harness/inject/kinds.ts';
import {
  armWrites,
  failedKnob,
  failnthCommand,
  failnthIOCommand,
  injectFacts,
  injectionsBetween,
  ioOutcome,
  knobScript,
  loadOutcome,
  parseFailnth,
  parseTimes,
  resetWrites,
  sweepIO,
  timesScript,
} from '../../harness/inject/plan.ts';

const BOTH = ['failslab', 'fail_page_alloc'] as const;
const knobs = (w: { path: string; value: string }[]) => Object.fromEntries(w.map((k) => [k.path, k.value]));

describe('arming fault injection for a kind', () => {
  it('slab: failslab counts sleeping allocations of every cache; fail_page_alloc counts none', () => {
    const k = knobs(armWrites('slab', BOTH));
    // The trap: failslab skips GFP_KERNEL unless ignore-gfp-wait is N.
    expect(k['/sys/kernel/debug/failslab/ignore-gfp-wait']).toBe('N');
    expect(k['/sys/kernel/debug/failslab/cache-filter']).toBe('N');
    // fail-nth counts every capability: the page allocator must not take the Nth.
    expect(Number(k['/sys/kernel/debug/fail_page_alloc/min-order'])).toBeGreaterThan(64);
  });

  it('page: fail_page_alloc counts order 0, sleeping and highmem pages; failslab counts none', () => {
    const k = knobs(armWrites('page', BOTH));
    expect(k['/sys/kernel/debug/fail_page_alloc/min-order']).toBe('0');
    expect(k['/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait']).toBe('N');
    expect(k['/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem']).toBe('N');
    // cache-filter=Y with no cache marked: no slab allocation reaches should_fail().
    expect(k['/sys/kernel/debug/failslab/cache-filter']).toBe('Y');
  });

  it('any: both armed; only fail-nth injects (probability 0, task-filter on) and times counts', () => {
    const k = knobs(armWrites('any', BOTH));
    expect(k['/sys/kernel/debug/failslab/ignore-gfp-wait']).toBe('N');
    expect(k['/sys/kernel/debug/fail_page_alloc/min-order']).toBe('0');
    for (const c of BOTH) {
      expect(k[`/sys/kernel/debug/${c}/probability`]).toBe('0');
      expect(k[`/sys/kernel/debug/${c}/task-filter`]).toBe('Y');
      expect(k[`/sys/kernel/debug/${c}/verbose`]).toBe('2');
      // times defaults to 1 (one injection ever): armed, it is a counter that never runs out.
      expect(Number(k[`/sys/kernel/debug/${c}/times`])).toBeGreaterThan(1000);
    }
  });

  it('writes only the capabilities the kernel has', () => {
    const paths = armWrites('any', ['failslab']).map((w) => w.path);
    expect(paths.every((p) => p.startsWith('/sys/kernel/debug/failslab/'))).toBe(true);
  });

  it('reset puts every knob it armed back at the kernel default', () => {
    const armed = armWrites('any', BOTH).map((w) => w.path);
    const reset = knobs(resetWrites(BOTH));
    expect(Object.keys(reset).sort()).toEqual([...new Set(armed)].sort());
    expect(reset['/sys/kernel/debug/failslab/ignore-gfp-wait']).toBe('Y');
    expect(reset['/sys/kernel/debug/fail_page_alloc/min-order']).toBe('1');
    expect(reset['/sys/kernel/debug/failslab/times']).toBe('1');
    expect(reset['/sys/kernel/debug/failslab/task-filter']).toBe('N');
  });

  it('a knob that cannot be written stops the script and is named', () => {
    const s = knobScript([{ path: '/sys/kernel/debug/failslab/ignore-gfp-wait', value: 'N' }]);
    expect(s).toBe(
      'echo N > /sys/kernel/debug/failslab/ignore-gfp-wait || { echo "kharness-knob-failed /sys/kernel/debug/failslab/ignore-gfp-wait"; exit 1; }',
    );
    expect(failedKnob("sh: can't create ...\nkharness-knob-failed /sys/kernel/debug/failslab/ignore-gfp-wait\n")).toBe(
      '/sys/kernel/debug/failslab/ignore-gfp-wait',
    );
    expect(failedKnob('')).toBeUndefined();
  });
});

describe('reading back an injection', () => {
  it('times counts down once per injection and names the capability', () => {
    expect(timesScript(BOTH)).toContain('cat /sys/kernel/debug/fail_page_alloc/times');
    const before = parseTimes('failslab times=1000000\nfail_page_alloc times=1000000\n');
    const after = parseTimes('failslab times=1000000\nfail_page_alloc times=999999\n');
    expect(injectionsBetween(before, after)).toEqual({ failslab: 0, fail_page_alloc: 1 });
  });

  it('fail-nth read back as 0 is the proof; the kind comes from the counters', () => {
    expect(injectFacts(3, 'any', 0, { failslab: 1, fail_page_alloc: 0 })).toEqual({
      inject_nth: 3,
      injected: true,
      injections: 1,
      inject_counted: 3,
      inject_kind: 'slab',
    });
    // __GFP_NOWARN: no message, still proven by the readback.
    expect(injectFacts(1, 'page', 0, { fail_page_alloc: 1 }).inject_kind).toBe('page');
  });

  it('an operation that made fewer than N allocations was not injected, and says how many it made', () => {
    expect(injectFacts(10, 'slab', 6, { failslab: 0 })).toMatchObject({
      injected: false,
      injections: 0,
      inject_counted: 4,
      inject_kind: 'none',
    });
  });
});

describe('what a target can inject', () => {
  const fi = parseConfig('CONFIG_FAULT_INJECTION=y\nCONFIG_FAILSLAB=y\nCONFIG_FAIL_PAGE_ALLOC=y\nCONFIG_FAULT_INJECTION_DEBUG_FS=y\n');
  it('a kernel with both capabilities can inject every kind', () => {
    for (const k of ['slab', 'page', 'any'] as const) expect(injectUnmet(k, { config: fi, release: '6.12.118' })).toBeUndefined();
  });

  it("Debian's prebuilt kernel cannot inject: the reason names what it lacks", () => {
    const debian = parseConfig('# CONFIG_FAULT_INJECTION is not set\nCONFIG_SLUB=y\n');
    expect(injectUnmet('slab', { config: debian, release: '6.1.192' })).toBe(
      'fault injection (slab) needs CONFIG_FAULT_INJECTION, CONFIG_FAULT_INJECTION_DEBUG_FS, CONFIG_FAILSLAB, ' +
        'which kernel 6.1.192 lacks (kernels/config/fault-injection.config adds them)',
    );
  });

  it('a kind needs only its own capability', () => {
    const slabOnly = parseConfig('CONFIG_FAULT_INJECTION=y\nCONFIG_FAILSLAB=y\nCONFIG_FAULT_INJECTION_DEBUG_FS=y\n');
    expect(injectUnmet('slab', { config: slabOnly, release: '6.1.192' })).toBeUndefined();
    expect(injectUnmet('page', { config: slabOnly, release: '6.1.192' })).toContain('CONFIG_FAIL_PAGE_ALLOC');
    expect(capabilitiesOf('any')).toEqual(['failslab', 'fail_page_alloc']);
  });

  it('the stack-trace filter: not on x86_64 6.1, on arm64 6.1 and x86_64 6.12', () => {
    expect(featureUnmet('stacktrace-filter', 'x86_64', '6.1.192')).toContain('x86_64 kernels before');
    expect(featureUnmet('stacktrace-filter', 'arm64', '6.1.192')).toBeUndefined();
    expect(featureUnmet('stacktrace-filter', 'x86_64', '6.12.118')).toBeUndefined();
  });
});

describe('the fail-nth loader', () => {
  it("reads finit_module()'s return and the fail-nth left", () => {
    expect(parseFailnth('kharness-failnth rc=-12 fail_nth_left=0\n')).toEqual({ rc: -12, failNthLeft: 0 });
    expect(parseFailnth('kharness-failnth error=no /proc/thread-self/fail-nth: the kernel has no CONFIG_FAULT_INJECTION\n')).toEqual({
      error: 'no /proc/thread-self/fail-nth: the kernel has no CONFIG_FAULT_INJECTION',
    });
    expect(parseFailnth('sh: /tmp/failnth: not found')).toEqual({
      error: 'the fail-nth loader printed no result: sh: /tmp/failnth: not found',
    });
  });

  it('is one command: the loader, N, the module, its parameters as one argument', () => {
    expect(failnthCommand('/tmp/kharness-module/failnth', '/tmp/kharness-module/foo.ko', 3, 'a=1 b=x')).toBe(
      "/tmp/kharness-module/failnth 3 /tmp/kharness-module/foo.ko 'a=1 b=x'",
    );
    expect(failnthCommand('/f', '/m.ko', 1, '')).toBe('/f 1 /m.ko');
    expect(() => failnthCommand('/f', '/m.ko', 0, '')).toThrow(RangeError);
  });

  it('names the errno a load returned', () => {
    expect(loadOutcome(0)).toBe('loaded');
    expect(loadOutcome(-12)).toBe('load returned -ENOMEM');
    expect(loadOutcome(-4095)).toBe('load returned -4095');
  });

  it('reads an exercise as the one write or read the helper makes, and refuses anything a shell would run', () => {
    expect(sweepIO('echo 1 > /sys/module/kh_errleak/parameters/poke')).toEqual({
      op: 'write',
      path: '/sys/module/kh_errleak/parameters/poke',
      data: '1\n',
    });
    expect(sweepIO('  echo -n on >/sys/kernel/debug/foo/ctl ')).toEqual({ op: 'write', path: '/sys/kernel/debug/foo/ctl', data: 'on' });
    expect(sweepIO(`echo 'a b' > /dev/foo`)).toEqual({ op: 'write', path: '/dev/foo', data: 'a b\n' });
    expect(sweepIO('echo "x=1" > /proc/foo')).toEqual({ op: 'write', path: '/proc/foo', data: 'x=1\n' });
    expect(sweepIO('cat /proc/foo/stats')).toEqual({ op: 'read', path: '/proc/foo/stats' });
    for (const bad of [
      'echo $(id) > /x',
      'echo 1 > /x; reboot',
      'echo 1 >> /x',
      'cat /x /y',
      'ls',
      'echo "$HOME" > /x',
      'echo 1 > x',
      'cat /x|sh',
    ])
      expect(sweepIO(bad), bad).toMatchObject({ error: expect.stringMatching(/give one write, `echo DATA > \/sys\/...`, or one read/) });
  });

  it('makes the write or read one command, its data in single quotes, newline and all', () => {
    expect(failnthIOCommand('/f', { op: 'write', path: '/sys/p', data: '1\n' }, 4)).toBe("/f 4 --write '/sys/p' '1\n'");
    expect(failnthIOCommand('/f', { op: 'read', path: '/proc/x' }, 1)).toBe("/f 1 --read '/proc/x'");
    expect(() => failnthIOCommand('/f', { op: 'write', path: '/p', data: "a'b" }, 1)).toThrow(RangeError);
    expect(() => failnthIOCommand('/f', { op: 'read', path: '/p' }, 0)).toThrow(RangeError);
  });

  it('says what a swept write or read returned', () => {
    expect(ioOutcome({ op: 'write', path: '/p', data: '1\n' }, 2)).toBe('wrote 2 bytes');
    expect(ioOutcome({ op: 'write', path: '/p', data: '1\n' }, -12)).toBe('write returned -ENOMEM');
    expect(ioOutcome({ op: 'read', path: '/p' }, 1)).toBe('read 1 byte');
    expect(ioOutcome({ op: 'read', path: '/p' }, -5)).toBe('read returned -EIO');
  });
});
