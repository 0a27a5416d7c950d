/**
 * The walking skeleton, end to end on a real 6.1 x86_64 kernel in QEMU:
 * build, boot, ssh, load kalloc_probe, run the shipped kmalloc-size-limits
 * scenario (in shared run A, with every other shipped scenario), and check
 * what the guest reported.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { busyboxApplets } from '../../harness/guest/rootfs.ts';
import { cacheRoot } from '../../harness/paths.ts';
import type { ResultRecord, StepRecord } from '../../harness/results/records.ts';
import { qemusUnder } from './helpers.ts';
import { type SharedRun, sharedRun } from './shared.ts';

describe('kmalloc-size-limits on 6.1 x86_64', () => {
  let a: SharedRun;
  let records: ResultRecord[] = [];
  let mine: StepRecord[] = [];
  let byName: Record<string, StepRecord> = {};

  beforeAll(async () => {
    a = await sharedRun('A');
    records = a.records;
    mine = a.steps.filter((s) => s.scenario === 'kmalloc-size-limits');
    byName = Object.fromEntries(mine.map((s) => [s.name, s]));
  });

  it('passes: 5 named steps plus the sweep from 8 B to 8 MiB (21 sizes)', () => {
    expect(mine.map((s) => s.status)).toEqual(Array(26).fill('pass'));
    expect(a.exitCode, a.output).toBe(0);
  });
  it('reads the guest constants: 4 KiB pages, KMALLOC_MAX_SIZE = 4 MiB', () => {
    const guest = records.find((r) => r.type === 'guest');
    expect(guest?.type === 'guest' && guest.constants).toMatchObject({
      PAGE_SIZE: 4096,
      KMALLOC_MAX_SIZE: 4194304,
      release: expect.stringMatching(/^6\.1\./),
    });
  });

  it("records every boot phase, in order: kernel start, marker, ssh's banner, key exchange and login, probe loaded, ready", () => {
    const g = records.find((r) => r.type === 'guest');
    const p = g?.type === 'guest' ? g.phases : undefined;
    expect(p).toBeDefined();
    const { kernelStartMs, uptimeAtMarkerMs, markerMs, sshBannerMs, sshKeyExchangeMs, sshMs, moduleMs, readyMs } = p!;
    for (const v of [kernelStartMs, uptimeAtMarkerMs, markerMs, sshBannerMs, sshKeyExchangeMs, sshMs, moduleMs, readyMs])
      expect(v).toBeGreaterThan(0);
    expect(kernelStartMs!).toBeLessThan(markerMs);
    expect(markerMs).toBeLessThanOrEqual(sshBannerMs!);
    expect(sshBannerMs!).toBeLessThanOrEqual(sshKeyExchangeMs!);
    expect(sshKeyExchangeMs!).toBeLessThanOrEqual(sshMs!);
    expect(sshMs!).toBeLessThanOrEqual(moduleMs!);
    expect(moduleMs!).toBeLessThanOrEqual(readyMs);
    // The guest's own uptime at the marker fits between the kernel's start and the marker.
    expect(kernelStartMs! + uptimeAtMarkerMs!).toBe(markerMs);
  });

  it('boots the fast path: vmlinux through its PVH entry under qboot, eth0 configured by the kernel', () => {
    const g = records.find((r) => r.type === 'guest');
    const log = g?.type === 'guest' ? g.consoleLog : '';
    const qemuLine = readFileSync(log, 'utf8').split('\n')[0]!;
    expect(qemuLine).toMatch(/ -bios qboot\.rom /);
    expect(qemuLine).toMatch(/ -kernel \S+\/vmlinux /);
    expect(qemuLine).toContain(' ip=10.0.2.15::10.0.2.2:');
  });

  it("reads the guest busybox's applets from its binary exactly as its own --list gives them", () => {
    const dir = join(cacheRoot(), 'guest');
    const bases = readdirSync(dir)
      .filter((d) => d.startsWith('x86_64-') && existsSync(join(dir, d, 'base.cpio')))
      .map((d) => join(dir, d, 'root', 'bin', 'busybox'))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    expect(bases.length).toBeGreaterThan(0);
    const listed = execFileSync(bases[0]!, ['--list'], { encoding: 'utf8' }).trim().split('\n');
    expect(busyboxApplets(readFileSync(bases[0]!))).toEqual(listed);
  });

  it("allocates 128 KiB + 1 and KMALLOC_MAX_SIZE in one physical run: the article's 128 KB limit does not hold", () => {
    expect(byName["just above the article's limit"]!.facts).toMatchObject({ ok: true, size: 131073, phys_runs: 1 });
    expect(byName['KMALLOC_MAX_SIZE, the real limit']!.facts).toMatchObject({ ok: true, size: 4194304, phys_runs: 1, pages: 1024 });
  });

  it('fails one byte above KMALLOC_MAX_SIZE', () => {
    expect(byName['one byte too many, silenced']!.facts).toMatchObject({ ok: false, size: 4194305 });
    expect(byName['one byte too many, warns']!.facts).toMatchObject({ ok: false, size: 4194305 });
  });

  it('attaches the WARNING only to the step without __GFP_NOWARN', () => {
    const warned = mine.filter((s) => s.splats.some((x) => x.kind === 'warning'));
    expect(warned.map((s) => s.name)).toEqual(['one byte too many, warns']);
    expect(warned[0]!.splats[0]!.at).toMatch(/^mm\/page_alloc\.c:\d+$/);
  });

  it('writes results as JSON lines with meminfo before and after, and leaves no QEMU behind', async () => {
    expect(records[0]!.type).toBe('run-begin');
    expect(records[records.length - 1]).toMatchObject({ type: 'run-end', outcome: 'passed' });
    const end = records.find((r) => r.type === 'scenario-end' && r.scenario === 'kmalloc-size-limits');
    expect(end?.type === 'scenario-end' && end.meminfoBefore?.MemTotal).toBeGreaterThan(0);
    expect(end?.type === 'scenario-end' && end.meminfoAfter?.MemFree).toBeGreaterThan(0);
    expect(await qemusUnder(a.out)).toEqual([]);
  });
});
