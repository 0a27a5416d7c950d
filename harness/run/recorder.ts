/**
 * The records one target writes, built in one place: a step's record, the
 * steps that did not run and why, the target's end. Records are written as
 * they happen (ResultsWriter appends synchronously), so whatever finished is
 * on disk whatever happens next.
 */
import type { KharnessError } from '../errors.ts';
import type { Scenario, Step } from '../scenario/types.ts';
import type { BootInfo } from './machine.ts';
import type { ResultRecord, ResultsWriter, StepRecord, TargetRef, TargetStatus } from './results.ts';

type StepFields = Partial<StepRecord> & Pick<StepRecord, 'status'>;

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
  }

  /** Every listed step gets a record saying why it did not run: a planned step is never silently missing. */
  notRun(steps: { s: Scenario; step: Step; name?: string }[], status: 'skip' | 'error', reason: string): void {
    for (const { s, step, name } of steps) this.step(s, step, { status, reason, ...(name ? { name } : {}) });
  }

  scenarioEnd(fields: Omit<Extract<ResultRecord, { type: 'scenario-end' }>, 'type' | 'target'>): void {
    this.w.write({ type: 'scenario-end', target: this.ref, ...this.stamp(), ...fields });
  }

  end(status: TargetStatus, error?: unknown): TargetStatus {
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

/** Every step of these scenarios, for notRun. */
export function allSteps(scenarios: readonly Scenario[]): { s: Scenario; step: Step }[] {
  return scenarios.flatMap((s) => s.steps.map((step) => ({ s, step })));
}
