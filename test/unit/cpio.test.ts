import { describe, expect, it } from 'vitest';
import { writeCpio } from '../../harness/guest/cpio.ts';
import { bootEntries } from '../../harness/guest/rootfs.ts';

/** A minimal newc reader, to check what the writer produced. */
function readCpio(buf: Buffer) {
  const out: { name: string; mode: number; rdev: [number, number]; data: string }[] = [];
  let off = 0;
  for (;;) {
    const h = buf.subarray(off, off + 110).toString();
    expect(h.slice(0, 6)).toBe('070701');
    const f = (i: number) => Number.parseInt(h.slice(6 + i * 8, 14 + i * 8), 16);
    const namesize = f(11);
    const filesize = f(6);
    const name = buf.subarray(off + 110, off + 110 + namesize - 1).toString();
    let p = off + 110 + namesize;
    p += (4 - (p % 4)) % 4;
    const data = buf.subarray(p, p + filesize).toString();
    p += filesize;
    p += (4 - (p % 4)) % 4;
    off = p;
    if (name === 'TRAILER!!!') return { entries: out, end: off };
    out.push({ name, mode: f(1), rdev: [f(9), f(10)], data });
  }
}

describe('cpio newc writer', () => {
  it('writes files, dirs, symlinks and device nodes, 4-byte aligned, with a trailer', () => {
    const buf = writeCpio([
      { type: 'dir', path: '/etc', mode: 0o755 },
      { type: 'file', path: 'etc/passwd', data: Buffer.from('root:x:0:0::/root:/bin/sh\n'), mode: 0o644 },
      { type: 'symlink', path: 'bin/sh', target: 'busybox' },
      { type: 'chardev', path: 'dev/console', major: 5, minor: 1 },
    ]);
    const { entries, end } = readCpio(buf);
    expect(end).toBe(buf.length);
    expect(entries.map((e) => e.name)).toEqual(['etc', 'etc/passwd', 'bin/sh', 'dev/console']);
    expect(entries[0]!.mode).toBe(0o040755);
    expect(entries[1]!.data).toBe('root:x:0:0::/root:/bin/sh\n');
    expect(entries[2]!.mode).toBe(0o120777);
    expect(entries[2]!.data).toBe('busybox');
    expect(entries[3]!.mode).toBe(0o020600);
    expect(entries[3]!.rdev).toEqual([5, 1]);
  });
});

describe('the scripts of steps run at boot, in the per-run archive', () => {
  it('places each file under its directories, one script file each, and the list init reads in order', () => {
    const ko = Buffer.from('\x7fELF a module');
    const { entries } = readCpio(
      writeCpio(
        bootEntries({
          scripts: ['echo one', 'echo two'],
          files: [{ path: '/lib/kharness-ktest/slub_kunit.ko', data: ko }],
        }),
      ),
    );
    expect(entries.map((e) => e.name)).toEqual([
      'lib',
      'lib/kharness-ktest',
      'etc',
      'etc/kharness-boot.d',
      'lib/kharness-ktest/slub_kunit.ko',
      'etc/kharness-boot.d/1.sh',
      'etc/kharness-boot.d/2.sh',
      'etc/kharness-boot',
    ]);
    const data = Object.fromEntries(entries.map((e) => [e.name, e.data]));
    expect(data['lib/kharness-ktest/slub_kunit.ko']).toBe(ko.toString());
    expect(data['etc/kharness-boot.d/2.sh']).toBe('echo two\n');
    expect(data['etc/kharness-boot']).toBe('/etc/kharness-boot.d/1.sh\n/etc/kharness-boot.d/2.sh\n');
  });

  it('refuses a file under /tmp (init mounts a tmpfs over it) or outside the archive', () => {
    for (const path of ['/tmp/ktest/x.ko', 'tmp', 'lib/../../x'])
      expect(() => bootEntries({ scripts: ['true'], files: [{ path, data: Buffer.alloc(1) }] })).toThrow(/cannot go to/);
  });
});
