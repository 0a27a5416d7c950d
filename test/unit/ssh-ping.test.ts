/**
 * GuestSession.ping against a real ssh server on loopback (ssh2's own server;
 * the guest's dropbear answers the same request with a refusal, which the
 * end-to-end kernel-tests run relies on): any answer is alive, no answer in
 * time is not, and the ping opens no channel (nothing in the guest has to
 * fork, which a guest busy on every CPU can take seconds to do).
 */
import { type AddressInfo, createServer } from 'node:net';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { generateRunKeys } from '../../harness/guest/keys.ts';
import { GuestSession } from '../../harness/guest/ssh.ts';

interface Served {
  session: GuestSession;
  channels: () => number;
  close: () => void;
}

/** A server that accepts the client's key and answers global requests as `answer` says (or not at all). */
async function serve(answer: 'refuse' | 'accept' | 'never'): Promise<Served> {
  const host = generateRunKeys();
  const client = generateRunKeys();
  const hostKey = ssh2.utils.parseKey(host.clientPrivate);
  if (hostKey instanceof Error) throw hostKey;
  let channels = 0;
  const server = new ssh2.Server({ hostKeys: [host.clientPrivate] }, (conn) => {
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('ready', () => {
      conn.on('session', () => {
        channels++;
      });
      conn.on('request', (accept, reject) => {
        if (answer === 'refuse') reject?.();
        if (answer === 'accept') accept?.();
      });
    });
    conn.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const session = await GuestSession.connect(port, client.clientPrivate, hostKey.getPublicSSH(), 5000);
  return {
    session,
    channels: () => channels,
    close: () => {
      session.close();
      server.close();
    },
  };
}

describe('the liveness ping', () => {
  let s: Served | undefined;
  afterEach(() => s?.close());

  it('counts a refusal as an answer, and opens no channel', async () => {
    s = await serve('refuse');
    expect(await s.session.ping(2000)).toBe(true);
    expect(await s.session.ping(2000)).toBe(true);
    expect(s.channels()).toBe(0);
  });

  it('counts an acceptance as an answer', async () => {
    s = await serve('accept');
    expect(await s.session.ping(2000)).toBe(true);
  });

  it('is false when nothing answers in time, each time', async () => {
    s = await serve('never');
    const t0 = Date.now();
    expect(await s.session.ping(200)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await s.session.ping(200)).toBe(false);
  });
});

describe('connecting', () => {
  it('stamps when the banner came, the key exchange ended and the login succeeded, in that order', async () => {
    const t0 = Date.now();
    const s = await serve('refuse');
    try {
      const { bannerAt, keyExchangeAt, readyAt } = s.session.timeline;
      expect(bannerAt).toBeGreaterThanOrEqual(t0);
      expect(keyExchangeAt).toBeGreaterThanOrEqual(bannerAt!);
      expect(readyAt).toBeGreaterThanOrEqual(keyExchangeAt!);
      expect(readyAt).toBeLessThanOrEqual(Date.now());
    } finally {
      s.close();
    }
  });

  it('fails, not hangs, when the guest side closes the connection before the handshake ends', async () => {
    // What QEMU's port forward does when an interrupt kills QEMU mid-handshake: the socket just closes.
    // ssh2 then emits only 'close' and drops its ready timer; a promise waiting for 'ready' or 'error'
    // would never settle, and the harness would exit 13 with the run's end unwritten.
    const server = createServer((sock) => {
      sock.write('SSH-2.0-dropbear_2022.83\r\n');
      sock.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const keys = generateRunKeys();
    const t0 = Date.now();
    await expect(GuestSession.connect(port, keys.clientPrivate, keys.hostKeyBlob, 60_000)).rejects.toThrow(
      /connection closed before it was ready/,
    );
    expect(Date.now() - t0).toBeLessThan(5000);
    server.close();
  });
});
