/**
 * What the compiled CLI in dist/ was built from, cheaply: the path, size and
 * modification time of every file under harness/ and of the files that shape
 * the build. A checkout's bin/kharness.js compares it with the one dist/ was
 * built from (dist/manifest.json) at every start, so a checkout never runs
 * code older than its sources (about 2 ms for ~120 files; git checkout and
 * editors change the time of every file they write).
 */
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
  return hash53(lines.sort().join('\n'));
}

/**
 * A 53-bit string hash (cyrb53), in hex: loading node:crypto for it took
 * longer than the whole walk, and a stamp only tells one set of file times
 * from another.
 */
function hash53(text) {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, '0');
}
