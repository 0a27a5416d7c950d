/**
 * What the compiled CLI in dist/ was built from, cheaply: the path, size and
 * modification time of every file under harness/ and of the files that shape
 * the build. A checkout's bin/kharness.js compares it with the one dist/ was
 * built from (dist/manifest.json) at every start, so a checkout never runs
 * code older than its sources (about 2 ms for ~120 files; git checkout and
 * editors change the time of every file they write).
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const INPUTS = ['harness'];
const BUILD_FILES = ['package.json', 'tsconfig.json', 'scripts/build.js', 'scripts/stamp.js'];

/** The stamp of the sources under root: a hash of (path, size, mtime) over every input file. */
export function sourceStamp(root) {
  const lines = [];
  const add = (rel) => {
    const st = statSync(join(root, rel));
    lines.push(`${rel} ${st.size} ${st.mtimeMs}`);
  };
  const walk = (rel) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else add(p);
    }
  };
  for (const d of INPUTS) walk(d);
  for (const f of BUILD_FILES) add(f);
  return createHash('sha256').update(lines.sort().join('\n')).digest('hex').slice(0, 32);
}
