/**
 * Debian package downloads through a shared directory (KHARNESS_DEB_CACHE),
 * on a stand-in apt-get that behaves as the real one does there: `download`
 * fetches into its working directory a package whose file is not already in
 * it, and `--print-uris` names the files of the ones that are not. Each fetch
 * writes a serial number, so a copy tells which fetch it came from.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { download, KERNEL_SUITES, kernelSourcesList, missingSuites, parsePolicy } from '../../harness/apt/apt.ts';
import { consoleLog } from '../../harness/util/log.ts';

const FAKE_APT = `#!/bin/sh
echo "$PWD $*" >> "$FAKE_APT_LOG"
case " $* " in *" --print-uris "*) uris=1 ;; *) uris= ;; esac
for a in "$@"; do
  case "$a" in
    *=*) f="\${a%%=*}_\${a#*=}_all.deb" ;;
    *) continue ;;
  esac
  [ -e "$f" ] && continue
  if [ -n "$uris" ]; then echo "'http://deb.example/$f' $f 6 SHA256:00"
  else n=$(($(cat "$FAKE_APT_SERIAL") + 1)); echo $n > "$FAKE_APT_SERIAL"; echo "fetch $n" > "$f"; fi
done
`;

describe('apt downloads', () => {
  let dir: string;
  const saved = { ...process.env };
  const calls = () =>
    readFileSync(join(dir, 'apt.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.replace(`${dir}/`, ''));
  const log = consoleLog(false, () => {});

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kharness-apt-'));
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'apt-get'), FAKE_APT);
    writeFileSync(join(bin, 'dpkg'), '#!/bin/sh\necho amd64\n');
    for (const f of ['apt-get', 'dpkg']) chmodSync(join(bin, f), 0o755);
    writeFileSync(join(dir, 'serial'), '0\n');
    Object.assign(process.env, {
      PATH: `${bin}:${process.env.PATH}`,
      FAKE_APT_LOG: join(dir, 'apt.log'),
      FAKE_APT_SERIAL: join(dir, 'serial'),
    });
  });
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it('fetches into the directory asked for, without a shared one', async () => {
    delete process.env.KHARNESS_DEB_CACHE;
    await download(['linux-image-x=1.0'], join(dir, 'a'), 'amd64', join(dir, 'a.log'), log);
    expect(readFileSync(join(dir, 'a', 'linux-image-x_1.0_all.deb'), 'utf8')).toBe('fetch 1\n');
    expect(calls()).toEqual(['a download linux-image-x=1.0']);
  });

  it('with a shared directory, fetches each package once however many caches ask for it', async () => {
    process.env.KHARNESS_DEB_CACHE = join(dir, 'debs');
    await download(['linux-image-x=1.0', 'linux-headers-x=1.0'], join(dir, 'a'), 'amd64', join(dir, 'a.log'), log);
    await download(['linux-image-x=1.0', 'linux-kbuild-x=1.0'], join(dir, 'b'), 'amd64', join(dir, 'b.log'), log);
    // Each cache gets exactly its packages; b's image is the copy a's fetch brought, its kbuild a fetch of its own.
    expect(readdirSync(join(dir, 'a')).sort()).toEqual(['linux-headers-x_1.0_all.deb', 'linux-image-x_1.0_all.deb']);
    expect(readdirSync(join(dir, 'b')).sort()).toEqual(['linux-image-x_1.0_all.deb', 'linux-kbuild-x_1.0_all.deb']);
    expect(readFileSync(join(dir, 'b', 'linux-image-x_1.0_all.deb'), 'utf8')).toBe(
      readFileSync(join(dir, 'a', 'linux-image-x_1.0_all.deb'), 'utf8'),
    );
    expect(readFileSync(join(dir, 'b', 'linux-kbuild-x_1.0_all.deb'), 'utf8')).toBe('fetch 3\n');
    expect(readFileSync(join(dir, 'serial'), 'utf8')).toBe('3\n');
    expect(calls()).toEqual([
      'a download --print-uris linux-image-x=1.0 linux-headers-x=1.0',
      'debs download linux-image-x=1.0 linux-headers-x=1.0',
      'b download --print-uris linux-image-x=1.0 linux-kbuild-x=1.0',
      'debs download linux-image-x=1.0 linux-kbuild-x=1.0',
    ]);
  });
});

describe("the kernels view: kharness's own apt state", () => {
  it('names every suite of the five series in its own sources list, mirrors replaceable', () => {
    const text = kernelSourcesList({});
    expect(KERNEL_SUITES.map((s) => s.suite)).toEqual([
      'bullseye',
      'bullseye-security',
      'bookworm',
      'bookworm-security',
      'bookworm-backports',
      'trixie',
      'trixie-backports',
      'sid',
      'experimental',
    ]);
    expect(text.split('\n')[1]).toBe(
      'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bullseye-security main',
    );
    expect(kernelSourcesList({ KHARNESS_DEBIAN_MIRROR: 'http://m/debian' }).split('\n')[7]).toMatch(/ http:\/\/m\/debian sid main$/);
  });

  it('names each suite whose package list apt did not fetch', () => {
    const files = KERNEL_SUITES.filter((s) => s.suite !== 'experimental' && s.suite !== 'bullseye').map(
      (s) => `deb.debian.org_debian_dists_${s.suite}_main_binary-arm64_Packages.lz4`,
    );
    expect(missingSuites(files, 'arm64')).toEqual(['bullseye', 'experimental']);
    expect(missingSuites(files, 'amd64')).toHaveLength(KERNEL_SUITES.length);
  });

  it("reads each package's candidate and the suite it comes from", () => {
    const policy = [
      'linux-image-7.3-cloud-amd64:',
      '  Installed: (none)',
      '  Candidate: 7.3~rc7-1~exp1',
      '  Version table:',
      '     7.3~rc7-1~exp1 1',
      '          1 http://deb.debian.org/debian experimental/main amd64 Packages',
      'linux-source-6.12:',
      '  Installed: (none)',
      '  Candidate: 6.12.118-1~deb12u1',
      '  Version table:',
      '     6.12.118-1~deb12u1 500',
      '        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages',
      '     6.12.117-1 500',
      '        500 http://deb.debian.org/debian trixie/main amd64 Packages',
      '',
    ].join('\n');
    expect([...parsePolicy(policy)]).toEqual([
      ['linux-image-7.3-cloud-amd64', { version: '7.3~rc7-1~exp1', suite: 'experimental' }],
      ['linux-source-6.12', { version: '6.12.118-1~deb12u1', suite: 'bookworm-security' }],
    ]);
  });
});
