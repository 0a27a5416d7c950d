/**
 * Kernels people run, on real booted guests: Debian's archive listed, its rt
 * flavour, names it does not have refused before anything runs, the user's
 * own build in place, the shell, and a kernel config that cannot be met
 * stopping before anything compiles. Debian's cloud and 16k kernels on both
 * arches: prebuilt.test.ts (shared run B); a release bisect over a Debian
 * range: test/full/release-bisect.test.ts.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { debian61Cloud, RT_612 } from './archive.ts';
import { cli, guestConstants, kernelBuildDir, qemusUnder, results, shipped, steps, tempDir } from './helpers.ts';

describe("Debian's prebuilt kernels", () => {
  it('lists the series per arch and flavour, naming versions without headers', async () => {
    const r = await cli(['kernels']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/x86_64\s+6\.1\s+cloud\s+(6\.1\.0-\d+ )+/);
    expect(r.stdout).toMatch(/arm64\s+6\.12\s+16k\s+/);
    // The catalog's sources: the host's packages, or the version and suite kharness fetches them from.
    expect(r.stdout).toMatch(/^ {2}6\.12 +x86_64, arm64 +debian-source \(linux-source-6\.12, host\), default matrix$/m);
    expect(r.stdout).toMatch(
      /^ {2}7\.2 +x86_64, arm64 +debian-source \(linux-source-7\.2 7\.2\.\d+-\d+, (sid|trixie-backports)\), default matrix$/m,
    );
    expect(r.stdout).toMatch(/^ {2}5\.10 +x86_64, arm64 +debian-source \(linux-source-5\.10 5\.10\.\d+-\d+, bullseye(-security)?\)$/m);
    const json = JSON.parse((await cli(['kernels', '--format', 'json'])).stdout) as { debian: { name: string; arch: string }[] };
    expect(json.debian.filter((k) => k.arch === 'arm64' && k.name.endsWith('-rt')).length).toBeGreaterThan(0);
  });

  it("runs the PREEMPT_RT scenario on Debian's rt flavour: spin_lock_irqsave is not atomic there", async () => {
    const out = tempDir();
    const r = await cli(['run', shipped('gfp-atomic-rt'), shipped('gfp-atomic-irq'), '--arch', 'x86_64', '--kernel', RT_612, '--out', out]);
    expect(r.exitCode, r.all).toBe(0);
    const records = results(out);
    expect(guestConstants(records, RT_612)).toMatchObject({ PREEMPT_RT: true });
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
    const irq = s.filter((x) => x.scenario === 'gfp-atomic-irq');
    expect(irq.length).toBeGreaterThan(0);
    expect(irq.filter((x) => x.reason !== 'kernel config has CONFIG_PREEMPT_RT')).toEqual([]);
    expect(await qemusUnder(out)).toEqual([]);
  });

  it('refuses an unknown version, naming the nearest, a run range across series and a bisect range across flavours, before anything runs', async () => {
    // The archive moves on (6.1.0-57 appeared after this test was first written): ask for a version past any
    // release, and expect the newest one the archive has today to be named as the nearest.
    const newest = (await debian61Cloud('x86_64')).at(-1);
    expect(newest).toBeDefined();
    const r = await cli(['run', '--kernel', 'debian:6.1.0-999-cloud', '--arch', 'x86_64']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`no Debian kernel debian:6.1.0-999-cloud for x86_64; nearest: ${newest}`);
    // A run's range walks one series (bisect walks across series, and is refused a range across flavours).
    const s = await cli(['run', '--kernel', 'debian:6.1..6.12-cloud', '--arch', 'x86_64']);
    expect(s.exitCode).toBe(2);
    expect(s.stderr).toMatch(/different series \(6\.1, 6\.12\)/);
    const f = await cli([
      'bisect',
      '--kernels',
      'debian:6.1-cloud..6.12-rt',
      '--scenario',
      shipped('memchr-inv-large'),
      '--arch',
      'x86_64',
    ]);
    expect(f.exitCode).toBe(2);
    expect(f.stderr).toMatch(/different flavours \(cloud, rt\)/);
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

  it('opens a shell: --exec runs one command in the guest, served by a fork of the running sshd, and returns its exit code', async () => {
    // The command's parent is dropbear's process for this connection: re-executed (not started by name), its
    // arguments would end in "-2 FD".
    const r = await cli([
      'shell',
      '--kernel',
      `build:${buildDir}`,
      '--exec',
      "grep -c kalloc_probe /proc/modules; tr '\\0' ' ' < /proc/$PPID/cmdline; echo; exit 7",
    ]);
    expect(r.stdout.trim().split('\n')).toEqual(['1', 'dropbear -r /etc/dropbear/host_key -p 22 -s -P /run/dropbear.pid']);
    expect(r.exitCode, r.all).toBe(7);
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
