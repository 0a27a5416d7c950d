/**
 * What a config fragment costs a cold kernel build, side by side: one catalog
 * kernel built twice in empty caches with ccache off, once as the catalog
 * says and once with a fragment that takes options out again (merged last,
 * so it wins). Not a timed test: it prints figures.
 *
 *   npm run bench:build-cost [-- --kernel 6.1 --arch x86_64 --without bench/no-kernel-tests.config]
 *
 * The extracted source tree and Debian's config are copied from the real
 * cache, so both builds time configuring and compiling only. Never run it
 * beside another kernel build: the two would share the cores.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cacheRoot, PROJECT_ROOT } from '../harness/paths.ts';

const { values: flags } = parseArgs({
  options: {
    kernel: { type: 'string', default: '6.1' },
    arch: { type: 'string', default: 'x86_64' },
    without: { type: 'string', default: join(PROJECT_ROOT, 'bench', 'no-kernel-tests.config') },
  },
});

function build(label: string, extra: string[]): number {
  const cache = mkdtempSync(join(tmpdir(), 'kharness-build-cost-'));
  try {
    for (const d of ['src', 'distro', 'apt'])
      if (existsSync(join(cacheRoot(), d))) cpSync(join(cacheRoot(), d), join(cache, d), { recursive: true });
    const t0 = Date.now();
    // The CLI prints its own one-line error (a fragment that cannot be met); the bench stops there.
    execFileSync('node', [join(PROJECT_ROOT, 'bin', 'kharness.js'), 'build', '--kernel', flags.kernel!, '--arch', flags.arch!, ...extra], {
      env: { ...process.env, KHARNESS_CACHE: cache, CCACHE_DISABLE: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const s = (Date.now() - t0) / 1000;
    const mods = execFileSync('sh', ['-c', `ls ${cache}/kernels/*/modules 2>/dev/null | wc -l`])
      .toString()
      .trim();
    console.log(`${label.padEnd(34)} ${s.toFixed(0).padStart(5)} s  (${mods} modules)`);
    return s;
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

process.on('uncaughtException', (e) => {
  console.error(`bench:build-cost stopped: ${(e as Error).message.split('\n')[0]}`);
  process.exit(1);
});

const without = resolve(flags.without!);
console.log(`cold build of ${flags.kernel}/${flags.arch}, ccache off; "without" merges ${without}:`);
console.log(readFileSync(without, 'utf8').replace(/^/gm, '  '));
const a = build('without the fragment', ['--fragment', without]);
const b = build('as the catalog says', []);
console.log(`the fragment's options add ${(((b - a) / a) * 100).toFixed(1)}% to the build (${(b - a).toFixed(0)} s)`);
