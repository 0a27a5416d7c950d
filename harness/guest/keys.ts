/**
 * Per-run ssh keys, all ed25519: the guest's host key (in dropbear's own
 * format, so the guest needs no key generation at boot) and the harness's
 * client key. The harness accepts exactly the host key it generated.
 */
import { generateKeyPairSync } from 'node:crypto';
import ssh2 from 'ssh2';

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

export function generateRunKeys(): RunKeys {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d!, 'base64url');
  const pub = Buffer.from(jwk.x!, 'base64url');
  const client = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'kharness' });
  return {
    hostKeyDropbear: Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.concat([seed, pub]))]),
    hostKeyBlob: Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]),
    clientPrivate: client.private,
    clientPublic: client.public,
  };
}
