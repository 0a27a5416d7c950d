/**
 * The user's own module on a real kernel that needs no build: Debian's arm64
 * 6.12 cloud kernel (fetched by the e2e setup), which has KFENCE and SLUB
 * debug compiled in but no kmemleak (that is test/full/modules.test.ts, on
 * 6.1-debug). Each example module is built against the kernel's headers,
 * loaded, exercised and unloaded; each detector catches its example, and the
 * clean module passes check-module. About 60 s on a loaded 2-core host
 * (2026-12-07), module builds included.
 */
import { describe, expect, it } from 'vitest';
import { cli, results, steps, tempDir } from './helpers.ts';

const scenario = (name: string) => `scenarios/modules/${name}.yaml`;

describe("user modules on Debian's 6.12 cloud kernel (arm64, no build)", () => {
  it('KFENCE catches the use after kfree, SLUB debug the write past kmalloc, and a cycle shows the vmalloc leak', async () => {
    const out = tempDir();
    const r = await cli(
      [
        'run',
        ...['clean', 'use-after-kfree', 'write-past-kmalloc', 'leak-on-unload'].map(scenario),
        '--arch',
        'arm64',
        '--kernel',
        'debian:6.12-cloud',
        '--out',
        out,
      ],
      { timeoutMs: 30 * 60_000 },
    );
    expect(r.exitCode, r.all).toBe(0);
    const s = steps(results(out));
    const uaf = s.find((x) => x.scenario === 'module-use-after-kfree' && x.name === 'exercise')!;
    expect(uaf.splats?.some((p) => p.kind === 'kfence' && p.title.includes('use-after-free read'))).toBe(true);
    const unload = s.find((x) => x.scenario === 'module-leak-on-unload' && x.name === 'unload')!;
    // The 1 MiB area, less up to two task stacks freed meanwhile (the scenario's bound).
    expect(unload.facts?.vmalloc_used_delta).toBeGreaterThanOrEqual((1 << 20) - (32 << 10));
    // Its own code's place, though Debian's kernel hashes /proc/vmallocinfo's pointers for a reader without kptr_restrict=1.
    const load = s.find((x) => x.scenario === 'module-leak-on-unload' && x.name === 'load')!;
    expect(load.facts).toMatchObject({
      in_vmalloc_area: true,
      vmalloc_caller: expect.stringMatching(/^(load_module|execmem_\w+|module_alloc)$/),
    });
    // The leaked kernel still allocates (a probe step after the module's unload).
    expect(s.find((x) => x.scenario === 'module-leak-on-unload' && x.name === 'the kernel keeps allocating')?.status).toBe('pass');
  });

  it('check-module: a clean module exits 0, a directory that is not a module exits 2 before anything boots', async () => {
    const clean = await cli(
      ['check-module', 'modules/examples/clean', '--arch', 'arm64', '--kernel', 'debian:6.12-cloud', '--out', tempDir()],
      {
        timeoutMs: 30 * 60_000,
      },
    );
    expect(clean.exitCode, clean.all).toBe(0);
    const bad = await cli(['check-module', 'test/fixtures', '--arch', 'arm64', '--kernel', 'debian:6.12-cloud']);
    expect(bad.exitCode).toBe(2);
    expect(bad.all).toMatch(/is not a kernel module: it has no Kbuild or Makefile/);
    expect(bad.all).not.toMatch(/booting/);
  });
});
