/**
 * The guest image's library closure, read from real ELF files of this host
 * (its own programs and libc, and the arm64 libc that the cross compiler's
 * package installs) and checked against binutils' readelf.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { elfNeeds, isLibrary, neededLibraries, type TreeFile } from '../../harness/guest/elf.ts';

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
