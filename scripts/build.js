#!/usr/bin/env node
/**
 * Compiles the TypeScript CLI (harness/) into dist/, which bin/kharness.js
 * runs: one ES module bundle with a chunk per command (esbuild's code
 * splitting; each command is imported only when it runs), npm dependencies
 * left to node_modules. About 0.3 s.
 *
 * dist/manifest.json records the sources' stamp (scripts/stamp.js) and every
 * compiled file's size and SHA-256: a checkout rebuilds when the stamp
 * differs, and an installed package names a missing or damaged file.
 *
 * Safe while other kharness processes start from dist/: every file is written
 * to a temporary name and renamed into place, chunks (named by their content)
 * before the entry and the manifest; files of older builds are removed only
 * a day later, since a running process may still import one.
 *
 *   node scripts/build.js          (npm run build; npm test and ./setup.sh run it)
 *   node scripts/build.js --clean  (npm pack: only this build's files are left in dist/)
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { sourceStamp } from './stamp.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The JSON Schemas whose validators the build generates (harness/util/validators.ts):
 * [module, export]. A schema missing here still works, compiled with ajv at its first use.
 */
export const SCHEMAS = [
  ['harness/scenario/schema.ts', 'scenarioSchema'],
  ['harness/kernel/schema.ts', 'catalogSchema'],
  ['harness/kernel/schema.ts', 'distroMmSchema'],
  ['harness/bisect/schema.ts', 'bisectStateSchema'],
];
const OLD_FILES_KEPT_MS = 24 * 3600_000;
/** Every chunk's first lines: the CommonJS code bundled in (yaml, ajv's generated validators) calls require() for Node's own modules. */
const BANNER =
  "import { createRequire as kharnessCreateRequire } from 'node:module';\nconst require = kharnessCreateRequire(import.meta.url);";

function writeAtomic(file, contents) {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, contents);
  renameSync(tmp, file);
}

/** The schemas' values: their modules bundled by themselves and imported. */
async function loadSchemas(root, out) {
  const r = await build({
    absWorkingDir: root,
    stdin: { contents: SCHEMAS.map(([m, name]) => `export { ${name} } from './${m}';`).join('\n'), resolveDir: root, loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    write: false,
    logLevel: 'warning',
  });
  const tmp = join(out, `.schemas-${process.pid}.mjs`);
  writeFileSync(tmp, r.outputFiles[0].contents);
  try {
    return await import(pathToFileURL(tmp).href);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** The generated validators module that replaces harness/util/precompiled.ts. */
async function precompiledModule(root, out) {
  const schemas = await loadSchemas(root, out);
  const { Ajv } = await import('ajv');
  const { default: standaloneCode } = await import('ajv/dist/standalone/index.js');
  // The same options and key as harness/util/validators.ts (AJV_OPTIONS, schemaKey).
  const ajv = new Ajv({ allErrors: true, strict: false, inlineRefs: false, code: { source: true, esm: true } });
  const exports = {};
  for (const [, name] of SCHEMAS) {
    const key = createHash('sha256').update(JSON.stringify(schemas[name])).digest('hex').slice(0, 24);
    ajv.addSchema(schemas[name], `k${key}`);
    exports[`v${key}`] = `k${key}`;
  }
  // ajv's generated code requires its small runtime helpers (ucs2length) even as an ES module: every chunk has require (BANNER).
  const precompiled = [
    standaloneCode(ajv, exports),
    `export const PRECOMPILED = { ${Object.keys(exports)
      .map((e) => `'${e.slice(1)}': ${e}`)
      .join(', ')} };`,
  ].join('\n');
  return { precompiled, scenarioSchema: schemas.scenarioSchema };
}

/** Builds dist/ under root; returns the manifest written. `clean`: remove older builds' files now (npm pack ships the folder). */
export async function buildDist(root = ROOT, { clean = false } = {}) {
  // Taken before the sources are read: a file saved during the build makes the next start build again.
  const stamp = sourceStamp(root);
  const out = join(root, 'dist');
  mkdirSync(out, { recursive: true });
  const { precompiled, scenarioSchema: schemaOf } = await precompiledModule(root, out);
  const result = await build({
    absWorkingDir: root,
    entryPoints: { main: 'harness/cli/main.ts' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Pure-JavaScript dependencies are bundled (yaml alone was 84 files to resolve and read at every start);
    // ssh2 (optional native parts) and ajv (only for a schema the build did not compile) stay packages.
    external: ['ssh2', 'ajv', 'ajv/*'],
    banner: { js: BANNER },
    // Flat: harness/paths.ts finds the project root as the parent of the compiled file's folder.
    outdir: out,
    chunkNames: '[name]-[hash]',
    write: false,
    logLevel: 'warning',
    plugins: [
      {
        name: 'precompiled-validators',
        setup(b) {
          b.onLoad({ filter: /[\\/]harness[\\/]util[\\/]precompiled\.ts$/ }, () => ({ contents: precompiled, loader: 'js' }));
        },
      },
    ],
  });
  const files = {};
  const main = result.outputFiles.find((f) => basename(f.path) === 'main.js');
  // `kharness schema` reads this instead of loading the tables the schema is made from (harness/cli/schema.ts).
  const schema = { path: join(out, 'scenario-schema.json'), contents: Buffer.from(`${JSON.stringify(schemaOf, null, 2)}\n`) };
  for (const f of [schema, ...result.outputFiles.filter((f) => f !== main), main]) {
    const name = basename(f.path);
    writeAtomic(f.path, f.contents);
    files[name] = { bytes: f.contents.length, sha256: createHash('sha256').update(f.contents).digest('hex') };
  }
  // What identifies this build's code, for results of code kept between runs (a parsed scenario).
  const code = createHash('sha256').update(JSON.stringify(files)).digest('hex').slice(0, 16);
  const manifest = { stamp, code, files };
  writeAtomic(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  for (const name of readdirSync(out)) {
    if (name === 'manifest.json' || files[name]) continue;
    const p = join(out, name);
    if (clean || Date.now() - statSync(p).mtimeMs > OLD_FILES_KEPT_MS) rmSync(p, { force: true });
  }
  return manifest;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  const m = await buildDist(ROOT, { clean: process.argv.includes('--clean') });
  const bytes = Object.values(m.files).reduce((a, f) => a + f.bytes, 0);
  process.stderr.write(`dist/: ${Object.keys(m.files).length} files, ${(bytes / 1024).toFixed(0)} KiB, in ${Date.now() - t0} ms\n`);
}
