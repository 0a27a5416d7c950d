import { UsageError } from '../errors.ts';
import { githubMatrix, planTargets } from '../run/plan.ts';
import { consoleLog } from '../util/log.ts';
import { catalogWith, kernelNames, list, positiveInt } from './args.ts';
import type { Outcome } from './exit.ts';

export async function matrixCommand(v: Record<string, unknown>): Promise<Outcome> {
  const kernels = await kernelNames(v.kernel, v.arch, consoleLog(false));
  const targets = planTargets(await catalogWith(kernels), { arches: list(v.arch), kernels });
  const shards = v.shards === undefined ? undefined : positiveInt(v.shards, '--shards');
  if (v.format === 'github') process.stdout.write(`${JSON.stringify(githubMatrix(targets, shards))}\n`);
  else if (v.format === 'text') process.stdout.write(`${targets.map((t) => `${t.arch}/${t.kernel}`).join('\n')}\n`);
  else throw new UsageError(`unknown --format "${String(v.format)}"`, 'Formats: text, github');
  return 'done';
}
