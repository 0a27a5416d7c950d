/**
 * Global setup of every test tier: compiles the CLI (dist/) once before any
 * test spawns `node bin/kharness.js`, so the tests run what users run, and
 * processes spawned four at a time do not each find the build stale and
 * build it themselves.
 */
import { buildDist } from '../../scripts/build.js';

export default async function setup(): Promise<void> {
  await buildDist();
}
