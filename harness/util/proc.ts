/** Running host commands with their output kept in a log file, and errors that quote its tail. */
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { type ErrorCode, KharnessError, PhaseTimeoutError, tail } from '../errors.ts';

export interface LoggedRun {
  cwd?: string;
  env?: Record<string, string>;
  /** Log file; the command line is written first, then stdout and stderr. */
  log: string;
  /** Names the phase in errors ("kernel build 6.1/x86_64"). */
  phase: string;
  /**
   * What a failure of the command means, decided by the caller who knows:
   * BUILD for compiling the kernel or a module (a bisect skips such a
   * candidate), INFRA for the host's tools (apt-get, git, tar, dpkg-deb).
   */
  fails: Extract<ErrorCode, 'BUILD' | 'INFRA'>;
  timeoutMs: number;
  verbose?: boolean;
}

export async function runLogged(cmd: string, args: string[], o: LoggedRun): Promise<void> {
  const line = [cmd, ...args].map((a) => (/[\s"'$]/.test(a) ? JSON.stringify(a) : a)).join(' ');
  const out = createWriteStream(o.log, { flags: 'a' });
  out.write(`$ ${o.cwd ? `(cd ${o.cwd} && ` : ''}${line}${o.cwd ? ')' : ''}\n`);
  if (o.verbose) process.stderr.write(`  $ ${line}\n`);
  const { execa } = await import('execa');
  const child = execa(cmd, args, {
    cwd: o.cwd,
    env: o.env,
    reject: false,
    stdin: 'ignore',
    buffer: false,
    timeout: o.timeoutMs,
    killSignal: 'SIGKILL',
  });
  child.stdout?.pipe(out, { end: false });
  child.stderr?.pipe(out, { end: false });
  const r = await child;
  await new Promise<void>((resolve) => out.end(resolve));
  if (r.timedOut) {
    throw new PhaseTimeoutError(o.phase, o.timeoutMs, `log: ${o.log}\n${tail(await readFile(o.log, 'utf8'), 15)}`);
  }
  if (r.exitCode !== 0) {
    const text = await readFile(o.log, 'utf8').catch(() => '');
    throw new KharnessError(
      o.fails,
      `${o.phase} failed: \`${cmd} ${args[0] ?? ''}…\` exited with ${r.exitCode ?? r.signal}`,
      `Full log: ${o.log}`,
      tail(text, 25),
    );
  }
}

/** Runs a short command and returns its stdout; for probes like `gcc --version`. A failure is the host's (INFRA). */
export async function capture(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<string> {
  // Imported when a command first runs: a cached run asks the host nothing before QEMU starts (util/facts.ts).
  const { execa } = await import('execa');
  const r = await execa(cmd, args, { cwd: opts.cwd, env: opts.env, stdin: 'ignore', reject: false, timeout: opts.timeoutMs ?? 120_000 });
  if (r.exitCode === 0) return r.stdout;
  const why = r.timedOut
    ? 'timed out'
    : r.exitCode === undefined
      ? r.failed
        ? String(r.shortMessage)
        : `was killed by ${r.signal}`
      : `exited with ${r.exitCode}`;
  throw new KharnessError(
    'INFRA',
    `\`${[cmd, ...args].join(' ').slice(0, 120)}\` ${why}`,
    undefined,
    tail(String(r.stderr || r.stdout || ''), 10),
  );
}

export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
}
