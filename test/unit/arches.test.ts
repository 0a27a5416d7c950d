import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARCHES } from '../../harness/arch/arches.ts';
import { chooseAccel } from '../../harness/guest/accel.ts';
import { qemuArgs } from '../../harness/guest/qemu.ts';
import { loadCatalog } from '../../harness/kernel/catalog.ts';
import { KERNELS_DIR } from '../../harness/paths.ts';

describe('per-arch table', () => {
  it('has a complete entry, with its config fragment, for every arch the catalog names', async () => {
    const arches = new Set((await loadCatalog()).flatMap((k) => k.arches));
    for (const a of arches) {
      const spec = ARCHES[a];
      expect(spec, a).toBeDefined();
      for (const [k, v] of Object.entries(spec!)) if (typeof v === 'string') expect(v, `${a}.${k}`).not.toBe('');
      for (const [k, v] of Object.entries(spec!.qemu)) expect(v, `${a}.qemu.${k}`).not.toBe('');
      expect(existsSync(join(KERNELS_DIR, 'config', spec!.fragment)), spec!.fragment).toBe(true);
    }
  });

  it('builds the QEMU command line from the table alone', () => {
    const args = qemuArgs({
      arch: ARCHES.arm64!,
      kernel: 'Image',
      initrd: 'i.gz',
      accel: 'tcg',
      memoryMb: 512,
      smp: 2,
      sshPort: 2222,
      consoleLog: 'c.log',
    });
    expect(args).toEqual(expect.arrayContaining(['-M', 'virt', '-cpu', 'max,pauth=off', '-accel', 'tcg', '-no-reboot']));
    expect(args[args.indexOf('-append') + 1]).toMatch(/^console=ttyAMA0 panic=-1 /);
    // ssh is forwarded on loopback only.
    expect(args).toContain('user,id=n0,hostfwd=tcp:127.0.0.1:2222-:22');
  });
});

describe('accelerator choice', () => {
  const good = { devKvm: true, cpuVirt: true, pvm: false, native: true };
  it('uses KVM only when it is usable and real', () => {
    expect(chooseAccel(good).accel).toBe('kvm');
    expect(chooseAccel(good, 'tcg').accel).toBe('tcg');
    expect(chooseAccel({ ...good, devKvm: false })).toEqual({ accel: 'tcg', reason: 'TCG: /dev/kvm is missing or not accessible' });
    expect(chooseAccel({ ...good, pvm: true }).reason).toMatch(/PVM/);
    expect(chooseAccel({ ...good, cpuVirt: false }).accel).toBe('tcg');
    expect(chooseAccel({ ...good, native: false }).reason).toMatch(/arch differs/);
  });
});
