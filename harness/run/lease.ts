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
   */
  async acquire(fresh: boolean, cmdline: readonly string[] = []): Promise<Machine> {
    const same = (this.current?.info.extraCmdline ?? []).join(' ') === cmdline.join(' ');
    if ((fresh || !same) && this.current) await this.discard();
    if (!this.current) {
      this.current = await this.boot(++this.boots, cmdline.length ? [...cmdline] : undefined);
      this.onBoot(this.current);
    }
    return this.current;
  }

  /** The current machine must not be used again (it died, hung, or a crash scenario had it). */
  async discard(): Promise<void> {
    const m = this.current;
    this.current = undefined;
    await m?.close();
  }

  close(): Promise<void> {
    return this.discard();
  }
}
