/**
 * An append-only log of text lines that can be waited on: the console of a
 * guest, its kernel log, or a replayed capture. Readers keep a cursor (an
 * index) and read what came after it, so nothing is re-read per step.
 */
export interface LineLog {
  /** Lines so far; a cursor is an index into them. */
  readonly length: number;
  slice(from: number, to?: number): string[];
  /**
   * Resolves with the index of the first line at or after `from` that
   * matches, or undefined when timeoutMs passes or the log closes first.
   */
  waitFor(re: RegExp, from: number, timeoutMs: number): Promise<number | undefined>;
  /** Date.now() when the newest line arrived (or when the log began). */
  readonly lastLineAt: number;
  readonly closed: boolean;
}

/** Raw output in, complete lines out; a trailing partial line waits for the rest (CR of CRLF dropped). */
export class LineSplitter {
  private partial = '';

  feed(text: string): string[] {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    return parts.map((p) => p.replace(/\r$/, ''));
  }

  /** What is left of an unfinished last line (and forget it). */
  flush(): string | undefined {
    const rest = this.partial;
    this.partial = '';
    return rest || undefined;
  }
}

export class LineBuffer implements LineLog {
  private readonly lines: string[] = [];
  private waiters: { re: RegExp; from: number; done: (i: number | undefined) => void }[] = [];
  private readonly splitter = new LineSplitter();
  lastLineAt = Date.now();
  closed = false;

  get length(): number {
    return this.lines.length;
  }

  slice(from: number, to?: number): string[] {
    return this.lines.slice(from, to);
  }

  push(line: string): void {
    const i = this.lines.push(line) - 1;
    this.lastLineAt = Date.now();
    if (!this.waiters.length) return;
    this.waiters = this.waiters.filter((w) => {
      if (i < w.from || !w.re.test(line)) return true;
      w.done(i);
      return false;
    });
  }

  /** Feeds raw output: complete lines are pushed, a trailing partial one is kept (CR of CRLF dropped). */
  write(text: string): void {
    for (const line of this.splitter.feed(text)) this.push(line);
  }

  close(): void {
    if (this.closed) return;
    const rest = this.splitter.flush();
    if (rest !== undefined) this.push(rest);
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.done(undefined);
  }

  waitFor(re: RegExp, from: number, timeoutMs: number): Promise<number | undefined> {
    for (let i = Math.max(0, from); i < this.lines.length; i++) if (re.test(this.lines[i]!)) return Promise.resolve(i);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const w = {
        re,
        from,
        done: (i: number | undefined) => {
          clearTimeout(timer);
          resolve(i);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
}
