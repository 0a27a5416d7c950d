/**
 * Which machine a scenario runs on. One machine per target is reused across
 * its scenarios; a scenario that expects the kernel to die gets a fresh one
 * (the runner orders those last, so the reused machine is not wasted); after
 * a machine is lost (a death, a hang, a timeout) the next scenario boots a
 * new one. close() belongs in a finally: no machine outlives its target.
 *
 * Booting ahead: when the runner knows the next scenario will need a machine
 * of its own, bootAhead() starts that boot while the current machine is still
 * running steps, so the boot overlaps the work instead of following it. A
 * machine booted ahead is only ever used by an acquire() that asks for the
 * same parameters; it counts as a boot (and gets its `guest` record) when it
 * is taken into use, and close() shuts it down if it never is.
 */
import type { BootScript, Machine, MachineFactory } from './machine.ts';

interface Ahead {
  key: string;
  machine: Promise<Machine>;
}

export class MachineLease {
  private current?: Machine;
  /** The current machine's effective parameters: what decides whether a scenario may share it. */
  private currentKey = '';
  private ahead?: Ahead;
  private boots = 0;

  constructor(
    private readonly boot: MachineFactory,
    /** Told about each machine once it is taken into use (the `guest` record, the progress line). */
    private readonly onBoot: (m: Machine) => void = () => {},
  ) {}

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
    if (this.current && !fresh && key === this.currentKey) return this.current;
    await this.discard();
    const ahead = this.takeAhead(key);
    if (!ahead) await this.dropAhead();
    this.current = await (ahead ?? this.start(cmdline, effective));
    this.currentKey = key;
    this.onBoot(this.current);
    return this.current;
  }

  /**
   * Start booting the machine a later acquire() with these parameters will
   * want, without waiting for it. At most one boots ahead: asking again for
   * other parameters shuts the earlier one down.
   */
  bootAhead(cmdline: readonly string[] = [], effective: readonly string[] = cmdline): void {
    const key = effective.join(' ');
    if (this.ahead?.key === key) return;
    void this.dropAhead();
    // A factory that throws at once (the run was interrupted) fails this boot, not the caller's scenario.
    const machine = Promise.resolve().then(() => this.start(cmdline, effective));
    // A failed boot ahead is reported by the acquire() that takes it; until then it must not go unhandled.
    machine.catch(() => undefined);
    this.ahead = { key, machine };
  }

  /**
   * A machine of its own for a scenario run at boot: its init runs `scripts`
   * and nothing else, so it is never shared; the caller discards it after.
   */
  async acquireAtBoot(scripts: readonly BootScript[], cmdline: readonly string[] = []): Promise<Machine> {
    await this.discard();
    this.current = await this.boot(++this.boots, cmdline.length ? [...cmdline] : undefined, scripts);
    this.currentKey = '\0at-boot';
    this.onBoot(this.current);
    return this.current;
  }

  /** The current machine must not be used again (it died, hung, or a crash scenario had it). */
  async discard(): Promise<void> {
    const m = this.current;
    this.current = undefined;
    this.currentKey = '';
    await m?.close();
  }

  /** Every machine, the one booting ahead included, shut down. */
  async close(): Promise<void> {
    await Promise.all([this.discard(), this.dropAhead()]);
  }

  private start(cmdline: readonly string[], effective: readonly string[]): Promise<Machine> {
    return this.boot(++this.boots, effective.length ? [...cmdline] : undefined);
  }

  private takeAhead(key: string): Promise<Machine> | undefined {
    if (this.ahead?.key !== key) return undefined;
    const m = this.ahead.machine;
    this.ahead = undefined;
    return m;
  }

  private async dropAhead(): Promise<void> {
    const a = this.ahead;
    this.ahead = undefined;
    const m = await a?.machine.catch(() => undefined);
    await m?.close().catch(() => undefined);
  }
}
