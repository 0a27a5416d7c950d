/**
 * `git:PATH[@REF]`: a commit of a kernel repository, built in the shared
 * clone's one build directory per arch (kernel/source.ts), so a bisect step
 * is an incremental build. The entry keeps its own image, config and modules:
 * the build directory moves on with the next commit.
 */
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makefileVersion } from '../../analysis/version.ts';
import type { Log } from '../../util/log.ts';
import { capture } from '../../util/proc.ts';
import { type GitSource, loadCatalog, paritySource } from '../catalog.ts';
import { configureAndMake, fragmentsFor, makeVars, SOURCE_TOOLS, type SourceEntry, sourceKey, sourceTestModule } from '../config.ts';
import { seriesOf } from '../debian.ts';
import { PLAIN } from '../entry.ts';
import { resolveCommit, sourceIdentity, withGitTree } from '../source.ts';
import type { Recipe } from './recipe.ts';

/** A git kernel's entry: its commit, whose checkout its build directory must be at for a module build. */
type GitEntry = SourceEntry & { git: { repo: string; commit: string } };

/**
 * The Debian package version whose config a git tree takes its allocator
 * options from: that of the catalog's source of the series its Makefile
 * names at the commit, or of `pinned`'s series (a bisect's good end); none:
 * it keeps tinyconfig's allocator options, and says so.
 */
async function parityVersion(name: string, s: GitSource, commit: string, log: Log, pinned?: string): Promise<string | undefined> {
  const makefile = () => capture('git', ['-C', s.repo, 'show', `${commit}:Makefile`]).catch(() => '');
  const version = pinned ?? makefileVersion(await makefile());
  const src = version ? paritySource(seriesOf(version), await loadCatalog()) : undefined;
  if (!src) {
    const why = version ? `the catalog builds no ${seriesOf(version)} kernel from Debian's source` : 'its Makefile names no version';
    log.info(`kernel ${name}: ${why}, so no Debian allocator options: tinyconfig's and the fragments' stay`);
    return undefined;
  }
  return (await sourceIdentity(src, log)).version;
}

export const git: Recipe<GitSource> = {
  tools: SOURCE_TOOLS,
  configurable: true,
  async kernel(k, arch, o, cache) {
    const s = k.source;
    const commit = await resolveCommit(s);
    const parity = k.distro_parity ? await parityVersion(k.name, s, commit, o.log, o.configVersion) : undefined;
    const fragments = await fragmentsFor(k, arch, o.log, parity, o.fragments);
    const key = await sourceKey(`git:${commit}`, arch, fragments);
    const started = Date.now();
    const entry = await cache<GitEntry>(key, {
      // The build directory is shared by every commit of this repository, so the
      // entry keeps its own copies of what outlives the next build there.
      produce: (dir) =>
        withGitTree(s, arch.name, commit, o.log, async (t) => {
          const { boot, ...r } = await configureAndMake({ fragments, arch, src: t.src, out: t.out, dir, key, kernel: k.name, started }, o);
          await copyFile(join(t.out, boot), join(dir, 'image'));
          await copyFile(join(t.out, '.config'), join(dir, 'config'));
          return { ...r, image: join(dir, 'image'), configFile: join(dir, 'config'), git: { repo: s.repo, commit } };
        }),
      files: (m) => (m.moduleDir ? { 'module directory': m.moduleDir } : {}),
    });
    return {
      ...PLAIN,
      ...entry,
      testModule: (name) => sourceTestModule(entry, name),
      // The build directory is shared by the repository's commits: put it back at this one first.
      withBuildDir: (log, prepare, fn) =>
        withGitTree(s, arch.name, entry.git.commit, log, async (t) => {
          await prepare(['-C', t.src, `O=${t.out}`, ...makeVars(arch), 'olddefconfig', 'modules_prepare']);
          return fn();
        }),
    };
  },
};
