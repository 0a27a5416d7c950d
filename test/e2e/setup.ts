/**
 * The end-to-end tier's global setup: every kernel the e2e tests boot is
 * built or fetched here, before any test runs, so no test waits on a build
 * and a cold run's builds are not hidden inside whichever test comes first.
 *
 * One kernel build at a time (the brief's rule; two `make -j2` on 2 cores
 * only slow each other): x86_64 6.1 from Debian's source, then the fixture
 * bisect's good end (fixture-slow) from ccache. Beside the source build run what is not a
 * kernel build: Debian's prebuilt kernels (downloads, each with a probe
 * module built against its headers) and the fixture history (a git repo).
 *
 * A build or fetch that fails throws with its log tail: the whole e2e run
 * stops at once with the reason, and nothing is skipped.
 *
 * The shared runs (test/e2e/shared.ts) are made lazily by the first file
 * that needs them, into this setup's session directory.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ARM64_16K, CLOUD_72, CLOUD_510, CLOUD_612, memchrUnfixed, RT_612 } from './archive.ts';
import { cli, ensureFixtureRepo, FIXTURE_REPO, qemusUnder } from './helpers.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where this e2e run's shared runs live. */
    session: string;
    /** A Debian 6.1 cloud kernel from before memchr_inv's fix (resolved from the archive). */
    memchrUnfixed: string;
  }
}

const tail = (text: string, n = 40) => text.split('\n').slice(-n).join('\n');

async function mustBuild(args: string[], what: string, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  const r = await cli(['build', ...args], { timeoutMs });
  if (r.exitCode !== 0) throw new Error(`e2e setup: ${what} failed (exit ${r.exitCode}); the end of its output:\n${tail(r.all ?? '')}`);
  const ms = Date.now() - t0;
  console.log(`e2e setup: ${what}: ${(ms / 1000).toFixed(1)} s${/cached/.test(r.stderr) ? ' (cached)' : ''}`);
  return ms;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = Date.now();
  const session = mkdtempSync(join(tmpdir(), 'kharness-e2e-session-'));
  const unfixed = await memchrUnfixed();
  // The one kernel build from Debian's source, beside the downloads and the fixture history.
  const source = mustBuild(['--arch', 'x86_64', '--kernel', '6.1'], 'x86_64 6.1 (Debian source)', 45 * 60_000);
  // Two lanes, one per guest arch (each arch's apt state has its own lock): on a warm cache each check is a
  // few seconds of process start and index reading, on a cold one a download and a probe-module build.
  const lane = async (kernels: [string, string][]) => {
    for (const [arch, kernel] of kernels)
      await mustBuild(['--arch', arch, '--kernel', kernel], `${arch} ${kernel} (Debian prebuilt)`, 20 * 60_000);
  };
  const fetches = Promise.all([
    lane([
      ['x86_64', CLOUD_612],
      ['x86_64', RT_612],
      ['x86_64', unfixed],
      ['x86_64', CLOUD_72],
      ['x86_64', CLOUD_510],
    ]),
    lane([
      ['arm64', CLOUD_612],
      ['arm64', ARM64_16K],
      ['arm64', CLOUD_72],
    ]),
  ]);
  const fixture = (async () => {
    const f0 = Date.now();
    const fresh = !existsSync(join(FIXTURE_REPO, '.git'));
    await ensureFixtureRepo();
    console.log(`e2e setup: fixture history: ${((Date.now() - f0) / 1000).toFixed(1)} s${fresh ? '' : ' (cached)'}`);
  })();
  await Promise.all([source, fetches, fixture]);
  // The fixture bisect's good end, after the source build (from ccache: the same config, the same tree layout).
  await mustBuild(['--arch', 'x86_64', '--kernel', `git:${FIXTURE_REPO}@fixture-slow`], 'fixture-slow (git)', 30 * 60_000);
  console.log(`e2e setup: kernels ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  project.provide('session', session);
  project.provide('memchrUnfixed', unfixed);
  return async () => {
    const left = await qemusUnder(session);
    if (left.length) throw new Error(`QEMU processes left behind by the shared runs:\n${left.join('\n')}`);
  };
}
