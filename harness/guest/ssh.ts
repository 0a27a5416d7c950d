/** One ssh2 connection to a guest: commands (with input on stdin) and long-lived channels. */
import { connect as tcpConnect } from 'node:net';
import type { Client, ClientChannel } from 'ssh2';
import { KharnessError, PhaseTimeoutError } from '../errors.ts';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/**
 * When each part of the connection ended (Date.now() stamps): the server's
 * first bytes (its banner: the TCP connection is up and sshd has started the
 * session's process), the key exchange, and authentication (ready).
 */
export interface ConnectTimeline {
  bannerAt?: number;
  keyExchangeAt?: number;
  readyAt: number;
}

let ssh2: Promise<typeof import('ssh2')> | undefined;

export class GuestSession {
  /**
   * ssh2, imported once, when first needed: a command that boots nothing
   * never loads it, and one that boots calls this as QEMU starts, so the
   * import runs while the guest boots instead of before.
   */
  static load(): Promise<typeof import('ssh2')> {
    ssh2 ??= import('ssh2').then((m) => (m as { default?: typeof import('ssh2') }).default ?? m);
    return ssh2;
  }

  private constructor(
    private readonly client: Client,
    readonly timeline: ConnectTimeline,
  ) {}

  /**
   * `noDelay` (the default) turns Nagle's algorithm off on the harness's
   * socket. With it on, a small write waits for the ACK of the one before,
   * which the guest's side delays: `cat /proc/meminfo` over ssh took 61 ms
   * instead of 15, and one probe request in about ten 40 ms more (`npm run
   * bench:guest-io` measures both side by side on one guest).
   */
  static async connect(
    port: number,
    privateKey: string,
    hostKeyBlob: Buffer,
    timeoutMs: number,
    { noDelay = true }: { noDelay?: boolean } = {},
  ): Promise<GuestSession> {
    const { Client: SshClient } = await GuestSession.load();
    return new Promise((resolve, reject) => {
      const client = new SshClient();
      let ready = false;
      const sock = tcpConnect({ host: '127.0.0.1', port, noDelay });
      let bannerAt: number | undefined;
      let keyExchangeAt: number | undefined;
      sock.once('data', () => {
        bannerAt = Date.now();
      });
      client.once('handshake', () => {
        keyExchangeAt = Date.now();
      });
      client.on('ready', () => {
        ready = true;
        resolve(new GuestSession(client, { bannerAt, keyExchangeAt, readyAt: Date.now() }));
      });
      // A connection the guest's side closes before the handshake ends (QEMU killed by an interrupt, a guest
      // that died) emits only 'close', and ssh2 drops its ready timer with it: without this the boot would wait
      // on a promise nothing can settle, and Node would exit 13 with the run's end unwritten.
      client.on('close', () => {
        if (!ready) reject(new KharnessError('GUEST', 'ssh to the guest: the connection closed before it was ready'));
      });
      client.on('error', (e) => {
        const err =
          (e as { level?: string }).level === 'client-timeout' || /Timed out/.test(e.message)
            ? new PhaseTimeoutError('ssh ready', timeoutMs, e.message)
            : new KharnessError('GUEST', `ssh to the guest failed: ${e.message}`);
        reject(err);
      });
      client.connect({
        sock,
        username: 'root',
        privateKey,
        // Straight to the key: not first a 'none' request, whose refusal only lists the methods (a round trip, 7 ms under TCG).
        authHandler: ['publickey'],
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
      let ch: ClientChannel | undefined;
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

  /**
   * A terminal session: an interactive shell on a pty (no command) or one
   * command, its output streamed to the caller's streams, its stdin fed from
   * the caller's. Resolves with the command's exit code.
   */
  attach(command: string | undefined, io: AttachIO): Promise<number | null> {
    return new Promise((resolve, reject) => {
      const done = (err: Error | undefined, ch: ClientChannel) => {
        if (err) return reject(new KharnessError('GUEST', `ssh ${command ? 'exec' : 'shell'} failed: ${err.message}`));
        let code: number | null = null;
        ch.on('exit', (c: number | null) => {
          code = c;
        });
        ch.on('data', (b: Buffer) => io.stdout.write(b));
        ch.stderr.on('data', (b: Buffer) => io.stderr.write(b));
        const feed = (b: Buffer) => ch.write(b);
        io.stdin.on('data', feed);
        // A command gets the caller's stdin until it ends; a non-interactive caller's empty stdin ends it at once.
        io.stdin.once('end', () => ch.end());
        ch.on('close', () => {
          io.stdin.off('data', feed);
          resolve(code);
        });
      };
      if (command) this.client.exec(command, done);
      else this.client.shell({ term: process.env.TERM ?? 'vt100', cols: io.columns ?? 80, rows: io.rows ?? 24 }, done);
    });
  }

  /**
   * A round trip that needs no new process in the guest: a global request
   * (cancel a port forward that was never set up) is answered, with a
   * refusal, by the ssh server's process for this connection. A guest whose
   * CPUs are busy with a stress test still answers it, where starting even
   * `true` (a fork that allocates a vmalloc'ed stack, an exec) can take
   * longer than the wait. Resolves true on any answer, false on none in time.
   */
  ping(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      try {
        this.client.unforwardIn('127.0.0.1', 1, () => {
          clearTimeout(timer);
          resolve(true);
        });
      } catch {
        clearTimeout(timer);
        resolve(false);
      }
    });
  }

  close(): void {
    this.client.end();
  }
}

/** The caller's side of a terminal session. */
export interface AttachIO {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  columns?: number;
  rows?: number;
}
