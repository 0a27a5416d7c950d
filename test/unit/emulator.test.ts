import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emulatorArtefact } from '../../harness/analysis/emulator.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', name), 'utf8').split('\n');

describe("boot deaths that are the emulator's", () => {
  it('names the int3 hit mid-patch on a real console, under TCG only', () => {
    const lines = fixture('console-debian-6.12.117-cloud-x86_64-int3-at-boot.log');
    expect(emulatorArtefact(lines, 'tcg')).toMatch(/^Oops: int3 at boot/);
    expect(emulatorArtefact(lines, 'kvm')).toBeUndefined();
  });

  it("leaves the kernel's own crashes alone: a BUG, an invalid opcode, a panic are verdicts", () => {
    for (const f of [
      'console-6.1-x86_64-vmalloc-hardirq.log',
      'console-6.12-x86_64-vmalloc-hardirq.log',
      'console-6.1-arm64-vmalloc-hardirq.log',
    ])
      expect(emulatorArtefact(fixture(f), 'tcg'), f).toBeUndefined();
    expect(emulatorArtefact(['[    3.0] Kernel panic - not syncing: VFS: Unable to mount root fs'], 'tcg')).toBeUndefined();
  });
});
