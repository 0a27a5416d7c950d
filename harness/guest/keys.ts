/**
 * Per-run ssh keys, all ed25519: the guest's host key (in dropbear's own
 * format, so the guest needs no key generation at boot) and the harness's
 * client key. The harness accepts exactly the host key it generated.
 *
 * Both come from node:crypto and are serialised here. ssh2's own
 * generateKeyPairSync('ed25519') drops a leading zero byte of the public key
 * about once in 250 keys, and ssh2 then refuses its own key ("Malformed
 * OpenSSH private key"): a run failing at random one boot in 250.
 */
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';

export interface RunKeys {
  /** dropbear's key file: string "ssh-ed25519", then string(seed ‖ public). */
  hostKeyDropbear: Buffer;
  /** The host key as the ssh wire format blob the server presents. */
  hostKeyBlob: Buffer;
  /** OpenSSH private key for ssh2. */
  clientPrivate: string;
  /** authorized_keys line. */
  clientPublic: string;
}

function sshString(b: Buffer | string): Buffer {
  const data = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** PKCS#8 DER of an ed25519 private key, less its 32-byte seed (RFC 8410): SEQUENCE, version 0, id-Ed25519, OCTET STRING. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * An ed25519 key pair as raw 32-byte seed and public key. The seed is random
 * bytes and the public half is derived from it: Node 20's
 * generateKeyPairSync() followed by a JWK export can deadlock (the export
 * holds the key's mutex while it allocates, a garbage collection then
 * finalizes the generating job, whose destructor takes the same mutex: a
 * unit run's worker was found stuck so in futex_wait, three times in runs of
 * 2000 keys).
 */
export function ed25519(): { seed: Buffer; pub: Buffer } {
  const seed = randomBytes(32);
  const key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return { seed, pub: spki.subarray(spki.length - 32) };
}

export function publicBlob(pub: Buffer): Buffer {
  return Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
}

/** The unencrypted "openssh-key-v1" private key format (PROTOCOL.key in OpenSSH). */
export function opensshPrivateKey(seed: Buffer, pub: Buffer, comment: string): string {
  const check = randomBytes(4);
  let priv = Buffer.concat([
    check,
    check,
    sshString('ssh-ed25519'),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  const pad = (8 - (priv.length % 8)) % 8;
  priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    u32(1),
    sshString(publicBlob(pub)),
    sshString(priv),
  ]);
  const b64 = body
    .toString('base64')
    .replace(/(.{70})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

export function generateRunKeys(): RunKeys {
  const host = ed25519();
  const client = ed25519();
  return {
    hostKeyDropbear: Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.concat([host.seed, host.pub]))]),
    hostKeyBlob: publicBlob(host.pub),
    clientPrivate: opensshPrivateKey(client.seed, client.pub, 'kharness'),
    clientPublic: `ssh-ed25519 ${publicBlob(client.pub).toString('base64')} kharness`,
  };
}
