/**
 * A vitest reporter that turns a stalled run into a failure naming the file.
 * Twice a unit run sat forever after a file's last test: the worker never
 * reported the file done, vitest waited on it, and CI's limit was what ended
 * it. When a file is running and no test has started or ended for
 * `limitMs`, this prints which files were running and exits 1.
 * `limitMs` must exceed the longest a single test or hook may take (its
 * timeout ends it with a result first).
 */
import type { Reporter, TestModule } from 'vitest/node';

export interface StallWatchOptions {
  limitMs?: number;
  /** For tests: the clock, the exit and where the message goes. */
  now?: () => number;
  exit?: (code: number) => void;
  write?: (text: string) => void;
  /** How often to look; 0: never on its own (tests call check()). */
  everyMs?: number;
}

export default class StallWatch implements Reporter {
  private readonly limitMs: number;
  private readonly now: () => number;
  private readonly exit: (code: number) => void;
  private readonly write: (text: string) => void;
  private readonly everyMs: number;
  private last: number;
  private readonly running = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(o: StallWatchOptions = {}) {
    this.limitMs = o.limitMs ?? 60_000;
    this.now = o.now ?? Date.now;
    this.exit = o.exit ?? ((code) => process.exit(code));
    this.write = o.write ?? ((t) => process.stderr.write(t));
    this.everyMs = o.everyMs ?? 5_000;
    this.last = this.now();
  }

  onInit(): void {
    if (this.everyMs > 0) {
      this.timer = setInterval(() => this.check(), this.everyMs);
      this.timer.unref();
    }
  }

  onTestModuleStart(m: TestModule): void {
    this.running.set(m.moduleId, this.now());
    this.last = this.now();
  }

  onTestCaseReady(): void {
    this.last = this.now();
  }

  onTestCaseResult(): void {
    this.last = this.now();
  }

  onHookStart(): void {
    this.last = this.now();
  }

  onHookEnd(): void {
    this.last = this.now();
  }

  onTestModuleEnd(m: TestModule): void {
    this.running.delete(m.moduleId);
    this.last = this.now();
  }

  onTestRunEnd(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Exits 1, naming the running files, when nothing has happened for limitMs; true when it did. */
  check(): boolean {
    if (!this.running.size) return false;
    const idle = this.now() - this.last;
    if (idle <= this.limitMs) return false;
    const files = [...this.running.keys()].map((f) => f.replace(`${process.cwd()}/`, '')).join(', ');
    this.write(
      `\nvitest stalled: nothing started or ended for ${Math.round(idle / 1000)} s while running ${files} ` +
        '(its tests are done or hung past their timeout); stopping with exit 1\n',
    );
    this.exit(1);
    return true;
  }
}
