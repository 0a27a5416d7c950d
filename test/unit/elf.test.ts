/**
 * The guest image's library closure, read from real ELF files of this host
 * (its own programs and libc, and the arm64 libc that the cross compiler's
 * package installs) and checked against binutils' readelf.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { archSpec } from '../../harness/arch/arches.ts';
import type { CpioEntry } from '../../harness/guest/cpio.ts';
import { elfNeeds, isLibrary, neededLibraries, type TreeFile } from '../../harness/guest/elf.ts';
import { onlyNeededLibraries } from '../../harness/guest/rootfs.ts';

const REAL_ELF = [
  '/bin/true',
  process.execPath,
  '/lib/x86_64-linux-gnu/libc.so.6',
  '/usr/aarch64-linux-gnu/lib/libm.so.6',
  '/usr/aarch64-linux-gnu/lib/libc.so.6',
].filter((p) => existsSync(p));

/** What readelf says a file needs. */
function readelf(path: string): { interp?: string; needed: string[] } {
  const program = execFileSync('readelf', ['-lW', path], { encoding: 'utf8' });
  const dynamic = execFileSync('readelf', ['-dW', path], { encoding: 'utf8' });
  const interp = /Requesting program interpreter: ([^\]]+)\]/.exec(program)?.[1];
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
  return { ...(interp ? { interp } : {}), needed };
}

const file = (path: string, from: string): TreeFile => ({ path, kind: 'file', data: readFileSync(from) });

describe('elfNeeds', () => {
  it('reads the interpreter and DT_NEEDED of real x86_64 and arm64 files as readelf does', () => {
    // The host's own programs and libc, and the cross compiler's arm64 libc: both arches of the guest.
    expect(REAL_ELF).toContain('/usr/aarch64-linux-gnu/lib/libm.so.6');
    for (const p of REAL_ELF) expect(elfNeeds(readFileSync(p)), p).toEqual(readelf(p));
  });

  it('gives nothing for a file that is not ELF, and undefined for a truncated one', () => {
    expect(elfNeeds(Buffer.from('#!/bin/sh\necho hi\n'))).toBeUndefined();
    const truncated = readFileSync('/bin/true').subarray(0, 200);
    expect(elfNeeds(truncated)).toBeUndefined();
  });
});

describe('neededLibraries', () => {
  it('keeps the loader and the libraries the programs name, through symlinks, and leaves the rest out', () => {
    const tree: TreeFile[] = [
      file('bin/true', '/bin/true'),
      { path: 'init', kind: 'file', data: Buffer.from('#!/bin/sh\n') },
      { path: 'lib64/ld-linux-x86-64.so.2', kind: 'symlink', target: '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2' },
      file('lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'),
      file('lib/x86_64-linux-gnu/libc.so.6', '/lib/x86_64-linux-gnu/libc.so.6'),
      file('lib/x86_64-linux-gnu/libm.so.6', '/lib/x86_64-linux-gnu/libm.so.6'),
    ];
    expect([...neededLibraries(tree)!].sort()).toEqual([
      'lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
      'lib/x86_64-linux-gnu/libc.so.6',
      'lib64/ld-linux-x86-64.so.2',
    ]);
  });

  it('follows a library to the libraries it needs (arm64), and a relative symlink to its file', () => {
    const tree: TreeFile[] = [
      { path: 'usr/bin/prog', kind: 'file', data: readFileSync('/usr/aarch64-linux-gnu/lib/libm.so.6') },
      { path: 'lib/ld-linux-aarch64.so.1', kind: 'symlink', target: 'aarch64-linux-gnu/ld-linux-aarch64.so.1' },
      file('lib/aarch64-linux-gnu/ld-linux-aarch64.so.1', '/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1'),
      file('lib/aarch64-linux-gnu/libc.so.6', '/usr/aarch64-linux-gnu/lib/libc.so.6'),
      file('lib/aarch64-linux-gnu/libdl.so.2', '/usr/aarch64-linux-gnu/lib/libdl.so.2'),
    ];
    // A program in usr/bin is a root even though it is libm: its path, not its content, makes it a library.
    expect([...neededLibraries(tree)!].sort()).toEqual([
      'lib/aarch64-linux-gnu/ld-linux-aarch64.so.1',
      'lib/aarch64-linux-gnu/libc.so.6',
      'lib/ld-linux-aarch64.so.1',
    ]);
  });

  it('gives up (keep everything) when a named library is missing or a program cannot be read', () => {
    expect(neededLibraries([file('bin/true', '/bin/true')])).toBeUndefined();
    const truncated: TreeFile = { path: 'bin/x', kind: 'file', data: readFileSync('/bin/true').subarray(0, 200) };
    expect(neededLibraries([truncated])).toBeUndefined();
  });

  it('tells libraries from programs by where they are', () => {
    expect(isLibrary('lib/x86_64-linux-gnu/libc.so.6')).toBe(true);
    expect(isLibrary('usr/lib/x86_64-linux-gnu/libtomcrypt.so.1.0.1')).toBe(true);
    expect(isLibrary('lib64/ld-linux-x86-64.so.2')).toBe(true);
    expect(isLibrary('lib/ld-linux-aarch64.so.1')).toBe(true);
    expect(isLibrary('usr/sbin/dropbear')).toBe(false);
    expect(isLibrary('lib/kharness-modules/00-kalloc_probe.ko')).toBe(false);
  });
});

describe('onlyNeededLibraries (the guest image)', () => {
  const arch = archSpec('x86_64');
  const entries = (): CpioEntry[] => [
    { type: 'dir', path: 'lib' },
    { type: 'file', path: 'bin/true', data: readFileSync('/bin/true') },
    { type: 'symlink', path: 'lib64/ld-linux-x86-64.so.2', target: '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2' },
    { type: 'file', path: 'lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', data: readFileSync('/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2') },
    { type: 'file', path: 'lib/x86_64-linux-gnu/libc.so.6', data: readFileSync('/lib/x86_64-linux-gnu/libc.so.6') },
    { type: 'file', path: 'lib/x86_64-linux-gnu/libm.so.6', data: readFileSync('/lib/x86_64-linux-gnu/libm.so.6') },
  ];

  it('drops the libraries nothing loads and keeps everything else, directories included', () => {
    const warnings: string[] = [];
    const kept = onlyNeededLibraries(entries(), arch, { verbose: false, info: () => {}, warn: (m) => warnings.push(m) });
    expect(kept.map((e) => e.path)).toEqual(
      entries()
        .map((e) => e.path)
        .filter((p) => !p.endsWith('libm.so.6')),
    );
    expect(warnings).toEqual([]);
  });

  it('keeps every library, with a warning, when a program names one that is not there', () => {
    const warnings: string[] = [];
    const withoutLibc = entries().filter((e) => !e.path.endsWith('libc.so.6'));
    const kept = onlyNeededLibraries(withoutLibc, arch, { verbose: false, info: () => {}, warn: (m) => warnings.push(m) });
    expect(kept).toEqual(withoutLibc);
    expect(warnings).toEqual(['could not work out which libraries the x86_64 guest programs need: the guest keeps all of them']);
  });
});
