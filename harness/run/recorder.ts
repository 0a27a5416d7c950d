/**
 * The records one target writes, built in one place: a step's record, the
 * steps that did not run and why, the target's end. Records are written as
 * they happen (ResultsWriter appends synchronously), so whatever finished is
 * on disk whatever happens next.
 *
 * The recorder keeps a ledger of the planned steps not yet on record: every
 * way a target ends closes what is left with one call (closeRest, or end),
 * so a planned step is never silently missing.
 */
import type { KharnessError } from '../errors.ts';
import type { BootInfo, ResultRecord, StepRecord, TargetRef, TargetStatus } from '../results/records.ts';
import type { ResultsWriter } from '../results/writer.ts';
import type { Scenario, Step } from '../scenario/types.ts';

export type StepFields = Partial<StepRecord> & Pick<StepRecord, 'status'>;

/** Why the steps left on the ledger did not run. */
export type NotRun = { status: 'skip' | 'error'; reason: string };

const INTERRUPTED: NotRun = { status: 'skip', reason: 'not run: interrupted' };

/** A planned step not yet on record; once resolved into instances (a sweep's sizes), the names of those not yet on record. */
interface Owed {
  s: Scenario;
  step: Step;
  names?: string[];
}

function errorInfo(e: unknown): NonNullable<Extract<ResultRecord, { type: 'target-end' }>['error']> {
  const k = e as KharnessError;
  if (e instanceof Error && 'code' in e && typeof k.code === 'string')
    return { code: k.code, message: k.message, hint: k.hint, details: k.details };
  return { code: 'INTERNAL', message: 'internal error (a bug in kharness, please report it)', details: (e as Error)?.stack ?? String(e) };
}

export class TargetRecorder {
  private ref: TargetRef;
  /** The run of the target's scenarios under way, with --repeat (stamped on step, guest and scenario-end records). */
  private run?: number;
  /** The ledger: planned steps without their record yet, in the order they would run. */
  private owed: Owed[] = [];

  constructor(
    private readonly w: ResultsWriter,
    target: TargetRef,
  ) {
    this.ref = { ...target };
  }

  get target(): TargetRef {
    return this.ref;
  }

  private now(): string {
    return new Date().toISOString();
  }

  begin(repeat?: number): void {
    this.w.write({ type: 'target-begin', target: this.ref, at: this.now(), ...(repeat && repeat > 1 ? { repeat } : {}) });
  }

  /** Records from now on belong to run `n` of the target's scenarios. */
  repeat(n: number): void {
    this.run = n;
  }

  private stamp(): { repeat?: number } {
    return this.run === undefined ? {} : { repeat: this.run };
  }

  /** Once the kernel is known, later records carry its cache key and release (earlier ones stay as written). */
  identify(configHash: string, release: string): void {
    this.ref = { ...this.ref, configHash, release };
  }

  status(phase: 'building' | 'booting' | 'running', detail?: string): void {
    this.w.write({ type: 'status', target: this.ref, phase, detail, at: this.now() });
  }

  phase(phase: string, ms: number, detail?: Record<string, unknown>): void {
    this.w.write({ type: 'target-phase', target: this.ref, phase, ms, detail });
  }

  profile(options: Record<string, string>): void {
    this.w.write({ type: 'kernel-profile', target: this.ref, options });
  }

  guest(b: BootInfo): void {
    this.w.write({ type: 'guest', target: this.ref, ...this.stamp(), ...b });
  }

  /**
   * The steps to come, in the order they will run: every step of the input
   * once the target begins, then each run's own order. A step still owed
   * must stay in the plan: nothing may drop off the ledger unrecorded.
   */
  plan(scenarios: readonly Scenario[]): void {
    const next = scenarios.flatMap((s) => s.steps.map((step) => ({ s, step })));
    if (this.owed.some((o) => !next.some((n) => n.step === o.step))) throw new Error('bug: an owed step left the plan');
    this.owed = next;
  }

  /** The step resolved into these instances (a sweep's sizes): each is owed a record of its own, under its name. */
  expand(step: Step, instances: readonly { name: string }[]): void {
    const o = this.owed.find((x) => x.step === step);
    if (o) o.names = instances.map((x) => x.name);
  }

  step(s: Scenario, step: Step, fields: StepFields): void {
    this.w.write({
      type: 'step',
      target: this.ref,
      scenario: s.name,
      scenarioFile: s.file,
      claims: s.claims,
      step: step.index,
      name: step.name,
      line: step.pos.line,
      facts: {},
      failures: [],
      splats: [],
      dmesg: [],
      ms: 0,
      at: this.now(),
      ...this.stamp(),
      ...fields,
    });
    this.settle(step, fields.name ?? step.name);
  }

  /** A record for `name` of this step is written: off the ledger (a kernel test's cases were never on it). */
  private settle(step: Step, name: string): void {
    const i = this.owed.findIndex((o) => o.step === step);
    const o = this.owed[i];
    if (!o) return;
    o.names = (o.names ?? [step.name]).filter((n) => n !== name);
    if (!o.names.length) this.owed.splice(i, 1);
  }

  /** Every step still owed (of scenario `s` only, when given) is recorded as not run, and why. */
  closeRest(why: NotRun, s?: Scenario): void {
    for (const o of this.owed.filter((x) => !s || x.s === s))
      for (const name of o.names ?? [undefined]) this.step(o.s, o.step, { ...why, ...(name ? { name } : {}) });
  }

  scenarioEnd(fields: Omit<Extract<ResultRecord, { type: 'scenario-end' }>, 'type' | 'target'>): void {
    this.w.write({ type: 'scenario-end', target: this.ref, ...this.stamp(), ...fields });
  }

  /**
   * The target's end. Every step still owed is recorded first: skipped when
   * the run was interrupted, else an error saying `why` (a boot that failed,
   * a kernel that could not be prepared; by default a bug).
   */
  end(status: TargetStatus, error?: unknown, why = 'internal error (a bug in kharness)'): TargetStatus {
    if (status === 'ok' && this.owed.length) throw new Error('bug: planned steps unrecorded');
    this.closeRest(status === 'interrupted' ? INTERRUPTED : { status: 'error', reason: `not run: ${why}` });
    this.w.write({
      type: 'target-end',
      target: this.ref,
      status,
      error: error === undefined ? undefined : errorInfo(error),
      at: this.now(),
    });
    return status;
  }
}
