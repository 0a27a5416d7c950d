/** The harness's own progress lines (not results: those go through reporters). */
export interface Log {
  info(msg: string): void;
  warn(msg: string): void;
  verbose: boolean;
}

export function consoleLog(verbose = false, write: (s: string) => void = (s) => process.stderr.write(s)): Log {
  return {
    verbose,
    info: (m) => write(`${m}\n`),
    warn: (m) => write(`warning: ${m}\n`),
  };
}
