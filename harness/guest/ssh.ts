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

  /** Every wait is bounded: opening the channel counts against timeoutMs too. */
  exec(command: string, opts: { stdin?: Buffer | string; timeoutMs?: number } = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      let ch: ssh2.ClientChannel | undefined;
      const timer = setTimeout(() => {
        ch?.close();
        reject(new PhaseTimeoutError(`guest command: ${command.slice(0, 60)}`, timeoutMs));
      }, timeoutMs);
      this.client.exec(command, (err, channel) => {
        if (err) {
          clearTimeout(timer);
          return reject(new KharnessError('GUEST', `ssh exec failed: ${err.message}`));
        }
        ch = channel;
        const out: Buffer[] = [];
        const errs: Buffer[] = [];
        let code: number | null = null;
        channel.on('data', (b: Buffer) => out.push(b));
        channel.stderr.on('data', (b: Buffer) => errs.push(b));
        channel.on('exit', (c: number | null) => {
          code = c;
        });
        channel.on('close', () => {
          clearTimeout(timer);
          resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errs).toString('utf8'), code });
        });
        if (opts.stdin !== undefined) channel.end(opts.stdin);
        else channel.end();
      });
    });
  }

  /** Runs a command and fails unless it exits 0. */
  async run(command: string, opts: { stdin?: Buffer | string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.exec(command, opts);
    if (r.code !== 0)
      throw new KharnessError('GUEST', `guest command failed (exit ${r.code}): ${command}`, undefined, (r.stderr || r.stdout).trim());
    return r.stdout;
  }

  /** The guest has no scp or sftp: files go through cat. */
  async upload(path: string, data: Buffer): Promise<void> {
    await this.run(`cat > '${path}'`, { stdin: data, timeoutMs: 60_000 });
  }

  /** A channel that stays open: the caller writes and reads it. Opening it is bounded. */
  channel(command: string, timeoutMs = 30_000): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new PhaseTimeoutError(`opening a guest channel: ${command.slice(0, 40)}`, timeoutMs)),
        timeoutMs,
      );
      this.client.exec(command, (err, ch) => {
        clearTimeout(timer);
        if (err) reject(new KharnessError('GUEST', `ssh exec failed: ${err.message}`));
        else resolve(ch);
      });
    });
  }

  close(): void {
    this.client.end();
  }
}
