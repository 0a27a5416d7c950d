/** One ssh2 connection to a guest: commands, uploads and long-lived channels. */
import ssh2, { type ClientChannel } from 'ssh2';
import { KharnessError, PhaseTimeoutError } from '../errors.ts';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

export class GuestSession {
  private constructor(private readonly client: ssh2.Client) {}

  static connect(port: number, privateKey: string, hostKeyBlob: Buffer, timeoutMs: number): Promise<GuestSession> {
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      client.on('ready', () => resolve(new GuestSession(client)));
      client.on('error', (e) => {
        const err =
          (e as { level?: string }).level === 'client-timeout' || /Timed out/.test(e.message)
            ? new PhaseTimeoutError('ssh ready', timeoutMs, e.message)
            : new KharnessError('GUEST', `ssh to the guest failed: ${e.message}`);
        reject(err);
      });
      client.connect({
        host: '127.0.0.1',
        port,
        username: 'root',
        privateKey,
        readyTimeout: timeoutMs,
        // Only the host key this run generated and put in the initramfs is accepted.
        hostVerifier: (key: Buffer) => key.equals(hostKeyBlob),
      });
    });
  }

  exec(command: string, opts: { stdin?: Buffer | string; timeoutMs?: number } = {}): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, ch) => {
        if (err) return reject(new KharnessError('GUEST', `ssh exec failed: ${err.message}`));
        const out: Buffer[] = [];
        const errs: Buffer[] = [];
        let code: number | null = null;
        const timer = opts.timeoutMs
          ? setTimeout(() => {
              ch.close();
              reject(new PhaseTimeoutError(`guest command: ${command.slice(0, 60)}`, opts.timeoutMs!));
            }, opts.timeoutMs)
          : undefined;
        ch.on('data', (b: Buffer) => out.push(b));
        ch.stderr.on('data', (b: Buffer) => errs.push(b));
        ch.on('exit', (c: number | null) => (code = c));
        ch.on('close', () => {
          if (timer) clearTimeout(timer);
          resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errs).toString('utf8'), code });
        });
        if (opts.stdin !== undefined) ch.end(opts.stdin);
        else ch.end();
      });
    });
  }

  /** Runs a command and fails unless it exits 0. */
  async run(command: string, opts: { stdin?: Buffer | string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.exec(command, opts);
    if (r.code !== 0) throw new KharnessError('GUEST', `guest command failed (exit ${r.code}): ${command}`, undefined, (r.stderr || r.stdout).trim());
    return r.stdout;
  }

  /** The guest has no scp or sftp: files go through cat. */
  async upload(path: string, data: Buffer): Promise<void> {
    await this.run(`cat > '${path}'`, { stdin: data, timeoutMs: 60_000 });
  }

  /** A channel that stays open: the caller writes and reads it. */
  channel(command: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, ch) => (err ? reject(new KharnessError('GUEST', `ssh exec failed: ${err.message}`)) : resolve(ch)));
    });
  }

  onClose(fn: () => void): void {
    this.client.on('close', fn);
  }

  close(): void {
    this.client.end();
  }
}
