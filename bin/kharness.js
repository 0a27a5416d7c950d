#!/usr/bin/env node
// Runs the compiled CLI in dist/ (scripts/build.js). In a git checkout it is
// first rebuilt if harness/ changed since the last build, so a checkout never
// runs stale code; an installed package is checked against dist/manifest.json,
// and a missing or damaged file is named in one line instead of a stack trace.
import { existsSync, readFileSync, statSync } from 'node:fs';
import module from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Node 22.1 and later keep the compiled code of the modules loaded here between runs (Node 20 has no such cache).
module.enableCompileCache?.();

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, 'dist');
const checkout = existsSync(join(root, 'harness', 'cli', 'main.ts'));

function fail(line) {
  process.stderr.write(`kharness: ${line}\n`);
  process.exit(2);
}

function readManifest() {
  try {
    return JSON.parse(readFileSync(join(dist, 'manifest.json'), 'utf8'));
  } catch (e) {
    return e.code === 'ENOENT' ? undefined : null;
  }
}

/** SHA-256 of bytes, in hex; node:crypto is loaded only for it (it costs more than the rest of a start). */
function sha256(bytes) {
  return module
    .createRequire(import.meta.url)('node:crypto')
    .createHash('sha256')
    .update(bytes)
    .digest('hex');
}

/**
 * The first compiled file that is missing or not what the build wrote, or
 * undefined; `hash` (SHA-256 of a file's bytes) compares the contents too.
 */
function damaged(manifest, hash) {
  for (const [name, f] of Object.entries(manifest.files)) {
    const p = join(dist, name);
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) return `${p} is missing`;
    if (st.size !== f.bytes) return `${p} is damaged (${st.size} bytes, built as ${f.bytes})`;
    if (hash && hash(readFileSync(p)) !== f.sha256) return `${p} is damaged (its contents differ from the build)`;
  }
  return undefined;
}

let manifest = readManifest();
if (checkout) {
  const { sourceStamp } = await import('../scripts/stamp.js');
  if (!manifest || manifest.stamp !== sourceStamp(root) || damaged(manifest, false)) {
    let buildDist;
    try {
      ({ buildDist } = await import('../scripts/build.js'));
    } catch {
      fail('dist/ is missing or older than harness/, and esbuild is not installed to build it: run `npm ci`, then `npm run build`.');
    }
    manifest = await buildDist(root);
  }
} else if (!manifest) {
  fail(`${join(dist, 'manifest.json')} is ${manifest === null ? 'damaged' : 'missing'}: reinstall kharness.`);
} else {
  const bad = damaged(manifest, false);
  if (bad) fail(`${bad}: reinstall kharness.`);
}

let main;
try {
  ({ main } = await import(pathToFileURL(join(dist, 'main.js')).href));
} catch (e) {
  // A file of the right size that does not load: find which one, by its hash.
  const bad = damaged(manifest, sha256);
  if (bad) fail(`${bad}: ${checkout ? 'run `npm run build`' : 'reinstall kharness'}.`);
  throw e;
}
const hint = checkout ? 'run `npm run build`' : 'reinstall kharness';
process.exitCode = await main(process.argv.slice(2), {
  // What a cached parse by this code is keyed on (absent in a manifest older than it: nothing is cached).
  code: manifest.code,
  damaged: () => {
    const bad = damaged(manifest, sha256);
    return bad && `${bad}: ${hint}.`;
  },
});
