/** The harness's own progress lines (not results: those go through reporters). */
export interface Log {
  info(msg: string): void;
  warn(msg: string): void;
  verbose: boolean;
}

export function consoleLog(verbose = false, stream: NodeJS.WritableStream = process.stderr): Log {
  return {
    verbose,
    info: (m) => stream.write(`${m}\n`),
    warn: (m) => stream.write(`warning: ${m}\n`),
  };
}

export const silentLog: Log = { verbose: false, info: () => {}, warn: () => {} };
