/**
 * What a kind of step is to the scenario loop: how it resolves against the
 * guest, how one instance of it is observed on a Machine, how that
 * observation is judged into records, and what to say when the machine is
 * lost in it. The loop (run/scenario.ts) knows nothing else about a kind: a
 * new kind of step is a new StepKind and a row in steps/index.ts.
 */
import type { TargetFacts } from '../../scenario/requires.ts';
import type { Constants } from '../../scenario/size.ts';
import type { Action, StepOf } from '../../scenario/types.ts';
import type { BootScript, Machine, Timeouts } from '../machine.ts';
import type { Observation } from '../observe.ts';
import type { StepFields } from '../recorder.ts';

/** What a step sees of its target and its run. */
export interface StepEnv {
  facts: TargetFacts;
  /** The guest's constants, as sizes are resolved against them. */
  constants: Constants;
  timeouts: Timeouts;
  signal?: AbortSignal;
  /** The kernel's own test module of that name (its .ko on the host), if the kernel built it. */
  testModule?: (name: string) => Promise<string | undefined>;
  /** The fail-nth loader (modules/failnth) built for the target's arch: its path on the host. */
  failnth?: () => Promise<string>;
  /** The user's module built for this target: the scenario's (its directory) unless the run names one of its own. */
  userModule?: (dir: string | undefined) => Promise<UserModule>;
  /** The target's next request number, taken when a request is about to go out. */
  nextSeq(): number;
  /**
   * A newly booted machine like the step's, in place of the one it lost (that
   * one is shut down); the scenario's later steps run on it. For a step that
   * goes on after its machine dies (a fault-injection sweep's next index).
   * Absent where the machine cannot be replaced (a scenario run at boot).
   */
  fresh?: () => Promise<Machine>;
}

/** A user's module as built for one target: its .ko and name, or why it did not build. */
export type UserModule =
  | { ok: true; name: string; ko: string; buildLog: string }
  /** `error`: the compiler's first error, or why there is nothing to build; `infra`: the host failed, not the module. */
  | { ok: false; error: string; buildLog?: string; details?: string; infra?: boolean };

/** One thing a step observes: a step, or one size of a sweep. Its name is its record's. */
export interface Instance {
  name: string;
}

/**
 * One kind of step. Written as methods, not function properties, so that a
 * kind of one action is a StepKind of any (parameters are checked both ways).
 */
export interface StepKind<A extends Action = Action, I extends Instance = Instance> {
  /** Why the step cannot run on this target, known before anything boots (its kernel lacks what it needs). Pure. */
  unmet(step: StepOf<A>, t: TargetFacts): string | undefined;
  /** The instances to observe, in order; or the step's one record when it ends before the guest is asked anything. */
  resolve(step: StepOf<A>, g: StepEnv): Promise<I[] | StepFields>;
  /**
   * A kind whose instance can run from the guest's init, before sshd (it needs
   * no user space but the initramfs): the script observe() would send for it
   * as request `seq`, and the files it needs. A scenario all of whose steps
   * can is run at boot when it has a machine to itself. Pure.
   */
  atBoot?(step: StepOf<A>, inst: I, seq: number): BootScript;
  /** Observes one instance. Throws InterruptedError when the run is interrupted; anything else thrown is the harness failing. */
  observe(m: Machine, step: StepOf<A>, inst: I, g: StepEnv): Promise<Observation>;
  /** The records of one observed instance: its own first, then its parts (a kernel test's cases). Pure. */
  judge(step: StepOf<A>, inst: I, obs: Observation, g: StepEnv): StepFields[];
  /** Why the rest of the scenario did not run when the machine was lost in `inst` (no observation: the harness failed). */
  lost(inst: I, obs?: Observation): string;
}
