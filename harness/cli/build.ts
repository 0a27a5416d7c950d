import { buildKernel } from '../kernel/build.ts';
import { buildModule } from '../module/build.ts';
import { consoleLog } from '../util/log.ts';
import type { Command } from './main.ts';

export const buildCommand: Command = {
  summary: 'build (or find in the cache) a guest kernel and the probe module',
  usage: 'kharness build --arch x86_64 --kernel 6.1 [--jobs N] [--verbose]',
  options: {
    arch: { type: 'string', default: 'x86_64' },
    kernel: { type: 'string', default: '6.1' },
    jobs: { type: 'string' },
    verbose: { type: 'boolean', short: 'v' },
  },
  async run(v) {
    const log = consoleLog(Boolean(v.verbose));
    const t0 = Date.now();
    const k = await buildKernel(String(v.kernel), String(v.arch), { log, jobs: v.jobs ? Number(v.jobs) : undefined });
    const m = await buildModule(k, log);
    process.stdout.write(`${k.image}\n${m.ko}\n`);
    log.info(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return 0;
  },
};
