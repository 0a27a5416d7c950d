/** The harness's own progress lines (not results: those go through reporters). */
export interface Log {
  info(msg: string): void;
  warn(msg: string): void;
  verbose: boolean;
}

/** What a wait for another process's cache lock says: who holds it, for how long, and how to stop. */
export function lockWait(log: Log, what: string): (pid: number, heldForMs: number) => void {
  return (pid, ms) =>
    log.info(`waiting for process ${pid}, which has held the lock on ${what} for ${Math.round(ms / 1000)} s (Ctrl-C stops waiting)`);
}

export function consoleLog(verbose = false, write: (s: string) => void = (s) => process.stderr.write(s)): Log {
  return {
    verbose,
    info: (m) => write(`${m}\n`),
    warn: (m) => write(`warning: ${m}\n`),
  };
}
