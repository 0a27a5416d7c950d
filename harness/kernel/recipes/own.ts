/** `build:DIR`: the user's own finished build, used where it is (kernel/own.ts checks it): no cache, no copy, no rebuild. */
import type { OwnBuild } from '../catalog.ts';
import { moduleInTree, PLAIN } from '../entry.ts';
import { inspectOwnBuild } from '../own.ts';
import type { Recipe } from './recipe.ts';

export const own: Recipe<OwnBuild> = {
  tools: [],
  configurable: false,
  async kernel(k, arch, o) {
    const { entry } = inspectOwnBuild(k.source.dir);
    o.log.info(`kernel ${k.name}/${arch.name}: the build in place (${entry.release})`);
    return { ...entry, ...PLAIN, testModule: (name) => moduleInTree(entry.buildDir, name) };
  },
};
