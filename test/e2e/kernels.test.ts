/**
 * Kernels people run, on real booted guests: Debian's prebuilt kernels as a
 * series (both arches, 4 KiB and 16 KiB pages), a release bisect over real
 * Debian versions with no build, the user's own build in place, the shell,
 * and a kernel config that cannot be met stopping before anything compiles.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, guestConstants, kernelBuildDir, qemusUnder, results, shipped, steps, tempDir } from './helpers.ts';

describe("Debian's prebuilt kernels", () => {
  it('lists the series per arch and flavour, naming versions without headers', async () => {
    const r = await cli(['kernels']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/x86_64\s+6\.1\s+cloud\s+(6\.1\.0-\d+ )+/);
    expect(r.stdout).toMatch(/arm64\s+6\.12\s+16k\s+/);
    const json = JSON.parse((await cli(['kernels', '--format', 'json'])).stdout) as { debian: { name: string; arch: string }[] };
    expect(json.debian.filter((k) => k.arch === 'arm64' && k.name.endsWith('-rt')).length).toBeGreaterThan(3);
  });

  it('boots on both arches, 4 KiB and 16 KiB pages, each with the KMALLOC_MAX_SIZE it measures', async () => {
    const out = tempDir();
    const r = await cli([
      'run',
      shipped('kmalloc-size-limits'),
      shipped('gfp-atomic-irq'),
      shipped('kernel-test-slub'),
      '--arch',
      'x86_64,arm64',
      '--kernel',
      'debian:6.12.117-cloud,debian:6.12.117-16k',
      '--out',
      out,
    ]);
    const records = results(out);
    expect(r.exitCode, r.all).toBe(0);
    const ends = records.flatMap((x) => (x.type === 'target-end' ? [`${x.target.arch}/${x.target.kernel} ${x.status}`] : []));
    expect(ends.sort()).toEqual(['arm64/debian:6.12.117-16k ok', 'arm64/debian:6.12.117-cloud ok', 'x86_64/debian:6.12.117-cloud ok']);
    expect(guestConstants(records, 'debian:6.12.117-16k')).toMatchObject({
      machine: 'aarch64',
      PAGE_SIZE: 16384,
      KMALLOC_MAX_SIZE: 32 * 1024 * 1024,
    });
    // Debian's kernels have no DEBUG_ATOMIC_SLEEP: only the step that needs it is skipped, GFP_ATOMIC in hard IRQ still runs.
    const hard = steps(records).filter((s) => s.name === 'GFP_ATOMIC in hard IRQ');
    expect(hard.map((s) => s.status)).toEqual(['pass', 'pass', 'pass']);
    expect(hard.every((s) => s.facts.in_hardirq === true)).toBe(true);
    // Debian does not build the kernel's own test modules: a skip per target, naming the option.
    expect(
      steps(records)
        .filter((s) => s.scenario === 'kernel-test-slub')
        .map((s) => `${s.status}: ${s.reason}`),
    ).toEqual(Array(3).fill("skip: kernel config lacks CONFIG_SLUB_KUNIT_TEST (the kernel's test module slub_kunit)"));
    // Each target's allocator options are on record.
    const profile = records.find((x) => x.type === 'kernel-profile' && x.target.kernel === 'debian:6.12.117-cloud');
    expect(profile?.type === 'kernel-profile' && profile.options).toMatchObject({
      SLUB_TINY: 'n',
      INIT_ON_ALLOC_DEFAULT_ON: 'y',
      KFENCE: 'y',
    });
    expect(await qemusUnder(out)).toEqual([]);
  });

  it("runs the PREEMPT_RT scenario on Debian's rt flavour: spin_lock_irqsave is not atomic there", async () => {
    const out = tempDir();
    const r = await cli([
      'run',
      shipped('gfp-atomic-rt'),
      shipped('gfp-atomic-irq'),
      '--arch',
      'x86_64',
      '--kernel',
      'debian:6.12.117-rt',
      '--out',
      out,
    ]);
    expect(r.exitCode, r.all).toBe(0);
    const records = results(out);
    expect(guestConstants(records, 'debian:6.12.117-rt')).toMatchObject({ PREEMPT_RT: true });
    const s = steps(records);
    const byName = (n: string) => s.find((x) => x.name === n)!;
    expect(byName('spin_lock_irqsave leaves the context preemptible')).toMatchObject({
      status: 'pass',
      facts: { ok: true, in_atomic: false, irqs_disabled: false },
    });
    // Debian's rt kernel cannot report sleeping in atomic context: those steps are skipped, saying why.
    expect(byName('GFP_ATOMIC, 64 KiB, under a raw spinlock is reported')).toMatchObject({
      status: 'skip',
      reason: 'kernel config lacks CONFIG_DEBUG_ATOMIC_SLEEP',
    });
    expect(s.filter((x) => x.scenario === 'gfp-atomic-irq').every((x) => x.reason === 'kernel config has CONFIG_PREEMPT_RT')).toBe(true);
    expect(await qemusUnder(out)).toEqual([]);
  });

  it('refuses an unknown version, naming the nearest, and a range across series, before anything runs', async () => {
    // The archive moves on (6.1.0-57 appeared after this test was first written): ask for a version past any
    // release, and expect the newest one the archive has today to be named as the nearest.
    const listed = JSON.parse((await cli(['kernels', '--format', 'json'])).stdout) as { debian: { name: string; arch: string }[] };
    const abi = (n: string) => Number(/^debian:6\.1\.0-(\d+)-cloud$/.exec(n)?.[1] ?? -1);
    const newest = listed.debian.filter((k) => k.arch === 'x86_64' && abi(k.name) >= 0).sort((a, b) => abi(b.name) - abi(a.name))[0]!.name;
    const r = await cli(['run', '--kernel', 'debian:6.1.0-999-cloud', '--arch', 'x86_64']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`no Debian kernel debian:6.1.0-999-cloud for x86_64; nearest: ${newest}`);
    const s = await cli(['bisect', '--kernels', 'debian:6.1.0-47..6.12.117-cloud', '--scenario', shipped('memchr-inv-large')]);
    expect(s.exitCode).toBe(2);
    expect(s.stderr).toMatch(/different series \(6\.1, 6\.12\)/);
  });
});

describe('a release bisect over Debian versions, without a build', () => {
  it('finds the first Debian 6.1 kernel whose memchr_inv() scans more than 32 GiB correctly', async () => {
    const out = tempDir();
    const t0 = Date.now();
    const r = await cli([
      'bisect',
      '--kernels',
      'debian:6.1.0-47..6.1.0-56-cloud',
      '--find',
      'fix',
      '--scenario',
      shipped('memchr-inv-large'),
      '--out',
      out,
    ]);
    console.log(`release bisect over debian:6.1.0-47..56 (6 versions): ${Date.now() - t0} ms`);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('first fixed: debian:6.1.0-54-cloud');
    // Both ends and at least two candidates between them were booted: at least four real versions.
    const booted = (r.stdout.match(/^ {2}debian:6\.1\.0-\d+-cloud {2}(old|fixed)/gm) ?? []).length;
    expect(booted).toBeGreaterThanOrEqual(4);
    expect(r.stdout).toMatch(/debian:6\.1\.0-53-cloud\s+old/);
    expect(await qemusUnder(out)).toEqual([]);
  });
});

describe('your own kernel', () => {
  let buildDir: string;
  beforeAll(async () => {
    // The default 6.1 build stands in for the user's: its O= directory, used in place.
    const b = await cli(['build', '--arch', 'x86_64', '--kernel', '6.1']);
    expect(b.exitCode, b.all).toBe(0);
    buildDir = kernelBuildDir(b.stdout.split('\n')[0]!);
    expect(existsSync(join(buildDir, '.config'))).toBe(true);
  });

  it('runs scenarios on a build directory with no copy and no rebuild', async () => {
    const out = tempDir();
    const r = await cli(['run', shipped('kmalloc-size-limits'), '--kernel', `build:${buildDir}`, '--out', out]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain(`the build in place`);
    expect(r.all).not.toMatch(/building kernel/);
  });

  it('refuses a build that lacks what the guest needs, before booting, naming the options and the fragment', async () => {
    const dir = tempDir();
    const config = readFileSync(join(buildDir, '.config'), 'utf8');
    writeFileSync(join(dir, '.config'), config.replace(/^CONFIG_VIRTIO_NET=y$/m, '# CONFIG_VIRTIO_NET is not set'));
    const r = await cli(['run', '--kernel', `build:${dir}`]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/lacks what a guest needs: CONFIG_VIRTIO_NET=y/);
    expect(r.stderr).toMatch(/Merge kernels\/config\/base\.config and kernels\/config\/x86_64\.config/);
  });

  it('opens a shell: --exec runs one command in the guest and returns its exit code', async () => {
    const r = await cli(['shell', '--kernel', `build:${buildDir}`, '--exec', 'grep -c kalloc_probe /proc/modules; exit 7']);
    expect(r.stdout.trim()).toBe('1');
    expect(r.exitCode).toBe(7);
  });

  it('serves the connection from a fork of the running sshd, not a re-executed one (init starts it by name)', async () => {
    // The command's parent is dropbear's process for this connection: re-executed, its arguments would end in "-2 FD".
    const r = await cli(['shell', '--kernel', `build:${buildDir}`, '--exec', "tr '\\0' ' ' < /proc/$PPID/cmdline"]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout.trim()).toBe('dropbear -r /etc/dropbear/host_key -p 22 -s -P /run/dropbear.pid');
  });
});

describe('strict kernel configs', () => {
  it('stops before compiling when an option cannot be met, naming the dependency that blocked it', async () => {
    const dir = tempDir();
    const frag = join(dir, 'needs-sysfs.config');
    writeFileSync(frag, '# CONFIG_SYSFS is not set\nCONFIG_SLUB_DEBUG=y\n');
    const t0 = Date.now();
    const r = await cli(['build', '--arch', 'x86_64', '--kernel', '6.1', '--fragment', frag]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`CONFIG_SLUB_DEBUG=y (${frag}:2) got n: blocked by "depends on `);
    expect(r.stderr).toMatch(/depends on [^"]*SYSFS[^"]*" \([^)]*SYSFS=n[^)]*\) at mm\/Kconfig\.debug:\d+/);
    expect(r.stderr).not.toMatch(/still building/);
    // tinyconfig, the merge and olddefconfig only: a compile would take minutes.
    expect(Date.now() - t0).toBeLessThan(120_000);
  });
});
