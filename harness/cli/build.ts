import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { archSpec } from '../arch/arches.ts';
import { UsageError } from '../errors.ts';
import { buildKernel, recipeOf } from '../kernel/build.ts';
import { loadCatalog } from '../kernel/catalog.ts';
import { findKernel } from '../kernel/names.ts';
import { buildModule } from '../module/build.ts';
import { consoleLog } from '../util/log.ts';
import { kernelNames, positiveInt } from './args.ts';
import type { Outcome } from './exit.ts';

export async function buildCommand(v: Record<string, unknown>): Promise<Outcome> {
  const log = consoleLog(Boolean(v.verbose));
  archSpec(String(v.arch));
  const names = (await kernelNames(v.kernel, v.arch, log)) ?? [];
  const name = names[0];
  if (names.length !== 1 || name === undefined)
    throw new UsageError('build takes one kernel', 'Give one name, e.g. --kernel 6.1 or --kernel debian:6.1-cloud.');
  const recipe = recipeOf(findKernel(name, await loadCatalog()));
  const t0 = Date.now();
  const fragments = ((v.fragment as string[] | undefined) ?? []).map((f) => resolve(f));
  if (fragments.length && !recipe.configurable)
    throw new UsageError(`--fragment cannot change ${name}: it is built already`, 'Give it a kernel kharness builds (6.1, 6.12, git:...).');
  for (const f of fragments)
    if (!existsSync(f)) throw new UsageError(`no fragment file ${f}`, 'Give --fragment a kernel config fragment (CONFIG_X=y lines).');
  const k = await buildKernel(name, String(v.arch), { log, fragments, jobs: v.jobs ? positiveInt(v.jobs, '--jobs') : undefined });
  const m = await buildModule(k, log);
  process.stdout.write(`${k.image}\n${m.ko}\n`);
  log.info(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return 'done';
}
