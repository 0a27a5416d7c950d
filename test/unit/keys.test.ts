import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { generateRunKeys } from '../../harness/guest/keys.ts';

describe('per-run ssh keys', () => {
  // ssh2's own ed25519 generator fails this about once in 250 keys: 2000 keys, in batches of 200 so that a loaded
  // host's slow batch still shows progress (the unit tier's stall watch stops a run where no test ends for 60 s).
  it.each(Array.from({ length: 10 }, (_, b) => b))(
    'always produce a private key ssh2 accepts, matching the authorized_keys line (batch %i of 200 keys)',
    (b) => {
      for (let i = b * 200; i < (b + 1) * 200; i++) {
        const k = generateRunKeys();
        const parsed = ssh2.utils.parseKey(k.clientPrivate);
        if (parsed instanceof Error) throw new Error(`${parsed.message}\n${k.clientPrivate}`);
        const pub = ssh2.utils.parseKey(k.clientPublic);
        if (pub instanceof Error) throw pub;
        expect(parsed.getPublicSSH().equals(pub.getPublicSSH())).toBe(true);
        // The signature verifies with the public half: the pair belongs together.
        const data = Buffer.from(`kharness ${i}`);
        expect(pub.verify(data, parsed.sign(data))).toBe(true);
      }
    },
  );

  it('writes dropbear host keys whose public half is the blob the harness trusts', () => {
    const k = generateRunKeys();
    // dropbear: string "ssh-ed25519", string(seed32 ‖ pub32); the blob: string "ssh-ed25519", string(pub32).
    expect(k.hostKeyDropbear.length).toBe(4 + 11 + 4 + 64);
    expect(k.hostKeyDropbear.subarray(4 + 11 + 4 + 32).equals(k.hostKeyBlob.subarray(4 + 11 + 4))).toBe(true);
  });
});
