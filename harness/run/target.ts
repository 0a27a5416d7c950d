/**
 * One target (arch × kernel) as phases: prepare → requirements → scenarios,
 * each returning its status; the machine lease is closed on every exit path.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { allocatorProfile, parseConfig } from '../analysis/kconfig.ts';
import { InterruptedError } from '../errors.ts';
import { buildKernel } from '../kernel/build.ts';
import { profileOptions } from '../kernel/distro.ts';
import { buildModule } from '../module/build.ts';
import { buildFailnth } from '../module/failnth.ts';
import { buildUserModule, readModuleDir } from '../module/user.ts';
import { cacheRoot } from '../paths.ts';
import type { TargetStatus } from '../results/records.ts';
import type { ResultsWriter } from '../results/writer.ts';
import type { Scenario } from '../scenario/types.ts';
import { fileIdentity } from '../util/facts.ts';
import type { Log } from '../util/log.ts';
import { cachedParse } from '../util/parsed.ts';
import { MachineLease } from './lease.ts';
import type { MachineSettings } from './machine.ts';
import { type Prepare, type Prepared, prepareFailure, requirementsPhase, scenariosPhase } from './phases.ts';
import { targetSlug } from './plan.ts';
import { bootQemuMachine } from './qemu-machine.ts';
import { TargetRecorder } from './recorder.ts';
import { counter } from './scenario.ts';
import type { UserModule } from './steps/kind.ts';

export interface TargetOptions {
  arch: string;
  kernel: string;
  scenarios: Scenario[];
  outDir: string;
  writer: ResultsWriter;
  log: Log;
  settings: MachineSettings;
  /** make -j for the kernel build. */
  makeJobs?: number;
  /** A git kernel's pinned configuration version (BuildOptions.configVersion). */
  configVersion?: string;
  /** Serialises kernel builds across targets. */
  buildSlot?: <T>(fn: () => Promise<T>) => Promise<T>;
  signal?: AbortSignal;
  /**
   * Runs of the scenarios (--repeat): one build, and each run on machines of
   * its own, booted afresh, so no run inherits what another left behind.
   */
  repeat?: number;
  /** How the kernel and its machines come to be: the real build and QEMU unless a test says otherwise. */
  prepare?: Prepare;
  /** The user's module the run names (`--module DIR`, absolute). */
  module?: string;
}

export async function runTarget(o: TargetOptions): Promise<TargetStatus> {
  const rec = new TargetRecorder(o.writer, { arch: o.arch, kernel: o.kernel });
  // A name safe for CI artifacts: `debian:` and `git:` kernel names carry ':' and '/'.
  const dir = join(o.outDir, targetSlug({ arch: o.arch, kernel: o.kernel }));
  await mkdir(dir, { recursive: true });
  const repeats = o.repeat ?? 1;
  rec.begin(repeats);
  rec.plan(o.scenarios);
  // Interrupted before this target began: every planned step is still on record, as not run.
  if (o.signal?.aborted) return rec.end('interrupted', new InterruptedError());
  rec.status('building');
  const prepare = o.prepare ?? prepareReal;
  const ctx = { ...o, dir, buildSlot: o.buildSlot ?? ((fn) => fn()), phase: rec.phase.bind(rec) };
  let prepared: Prepared;
  try {
    prepared = await prepare(ctx);
  } catch (e) {
    const status = o.signal?.aborted ? 'interrupted' : prepareFailure(e);
    return rec.end(status, e, `the kernel could not be prepared: ${(e as Error).message}`);
  }
  rec.identify(prepared.key, prepared.release);
  rec.profile(allocatorProfile(prepared.config, await profileOptions()));
  const facts = { arch: o.arch, release: prepared.release, config: prepared.config };
  const runnable = requirementsPhase(o.scenarios, facts, rec);
  const lease = new MachineLease(
    (n, cmdline, scripts) => {
      if (o.signal?.aborted) throw new InterruptedError();
      rec.status('booting', `boot ${n}`);
      const how = [...(cmdline ? [`with ${cmdline.join(' ')}`] : []), ...(scripts ? [`its steps run at boot`] : [])];
      o.log.info(`booting ${o.arch}/${o.kernel} (boot ${n}${how.map((h) => `, ${h}`).join('')})`);
      return prepared.boot(n, cmdline, scripts);
    },
    (m) => rec.guest(m.info),
  );
  try {
    const c = {
      rec,
      lease,
      facts,
      settings: o.settings,
      dir,
      signal: o.signal,
      nextSeq: counter(),
      testModule: prepared.testModule,
      failnth: prepared.failnth,
      userModule: prepared.userModule,
    };
    for (let n = 1; n <= repeats; n++) {
      if (repeats > 1) rec.repeat(n);
      // A fresh machine for every run: fragmentation, full per-CPU lists, used-up rate limits stay behind.
      if (n > 1) await lease.discard();
      const end = await scenariosPhase(c, runnable, n < repeats);
      // A run that could not finish (a boot failure, an interrupt) ends the target: the runs after it are not made.
      if (end.status !== 'ok' || n === repeats) return rec.end(end.status, end.error, end.why);
    }
    return rec.end('ok');
  } catch (e) {
    // An interrupt (in a step or between scenarios), or a bug: every expected failure is a status of its phase.
    return rec.end(o.signal?.aborted ? 'interrupted' : 'internal-error', e);
  } finally {
    await lease.close();
  }
}

/** The real preparation: the kernel from the cache or a build, the probe built against it, QEMU machines. */
export const prepareReal: Prepare = async (c) => {
  const t0 = Date.now();
  const kernel = await c.buildSlot(() => buildKernel(c.kernel, c.arch, { log: c.log, jobs: c.makeJobs, configVersion: c.configVersion }));
  c.phase('kernel', Date.now() - t0, { key: kernel.key, buildMs: kernel.buildMs });
  const t1 = Date.now();
  const module = await buildModule(kernel, c.log);
  c.phase('module', Date.now() - t1);
  // Kept parsed, keyed on the file's identity: a Debian kernel's config has 10,000 lines.
  const config = new Map(
    await cachedParse(cacheRoot(), ['kconfig', fileIdentity(kernel.configFile)], async () => [
      ...parseConfig(await readFile(kernel.configFile, 'utf8')),
    ]),
  );
  let failnth: Promise<string> | undefined;
  // Each module the target's steps name is built once, when a step first needs it, into the target's directory.
  const userModules = new Map<string, Promise<UserModule>>();
  const userModule = (dir: string | undefined): Promise<UserModule> => {
    const d = c.module ?? dir;
    if (d === undefined)
      return Promise.resolve({ ok: false, infra: true, error: 'no module to load: give `--module DIR`, or `module:` in the scenario' });
    if (!userModules.has(d))
      userModules.set(
        d,
        readModuleDir(d).then((m) => buildUserModule(kernel, m, join(c.dir, `module-${m.file}`), c.log)),
      );
    return userModules.get(d)!;
  };
  return {
    key: kernel.key,
    release: kernel.release,
    config,
    testModule: (name) => kernel.testModule(name),
    failnth: () => (failnth ??= buildFailnth(c.arch, c.log).then((b) => b.path)),
    userModule,
    boot: async (n, cmdline, scripts) => {
      const m = await bootQemuMachine(
        { kernel, module, config, dir: c.dir, settings: c.settings, log: c.log, signal: c.signal, cmdline },
        n,
        scripts,
      );
      const k = m.info.constants;
      c.log.info(
        `  ready in ${(m.info.sshMs / 1000).toFixed(2)} s (${m.info.accel}); KMALLOC_MAX_SIZE=${k.KMALLOC_MAX_SIZE} PAGE_SIZE=${k.PAGE_SIZE}`,
      );
      return m;
    },
  };
};
