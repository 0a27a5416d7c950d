/**
 * Which machine a scenario runs on. One machine per target is reused across
 * its scenarios; a scenario that expects the kernel to die gets a fresh one
 * (the runner orders those last, so the reused machine is not wasted); after
 * a machine is lost (a death, a hang, a timeout) the next scenario boots a
 * new one. close() belongs in a finally: no machine outlives its target.
 */
import type { Machine, MachineFactory } from './machine.ts';

export class MachineLease {
  private current?: Machine;
  /** The current machine's effective parameters: what decides whether a scenario may share it. */
  private currentKey = '';
  private boots = 0;

  constructor(
    private readonly boot: MachineFactory,
    /** Told about each machine once it is up (the `guest` record, the progress line). */
    private readonly onBoot: (m: Machine) => void = () => {},
  ) {}

  /** Boots so far. */
  get count(): number {
    return this.boots;
  }

  /**
   * The machine for the next scenario: the current one, or a new one when
   * `fresh`, when there is none, or when the scenario needs kernel parameters
   * the current one did not boot with (a changed command line is a new VM).
   * `effective`: the parameters of `cmdline` that change the kernel (those
   * restating its defaults left out); machines are shared by it. A machine
   * booted for parameters boots with all of `cmdline`, as the scenario wrote it.
   */
  async acquire(fresh: boolean, cmdline: readonly string[] = [], effective: readonly string[] = cmdline): Promise<Machine> {
    const key = effective.join(' ');
    if ((fresh || key !== this.currentKey) && this.current) await this.discard();
    if (!this.current) {
      this.current = await this.boot(++this.boots, effective.length ? [...cmdline] : undefined);
      this.currentKey = key;
      this.onBoot(this.current);
    }
    return this.current;
  }

  /** The current machine must not be used again (it died, hung, or a crash scenario had it). */
  async discard(): Promise<void> {
    const m = this.current;
    this.current = undefined;
    this.currentKey = '';
    await m?.close();
  }

  close(): Promise<void> {
    return this.discard();
  }
}
