import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { createTestNamespace, eventually, TEST_NATS_URL } from '@homiwork/testing';
import { RevocationMirror, RevocationWriter } from './revocation-list.js';

const nc = await connect({ servers: TEST_NATS_URL });
afterAll(() => nc.close());

describe('the revocation mirror', () => {
  it('refuses a revoked session or account at once, and forgets an entry once the bucket has aged it out', async () => {
    // The bucket forgets after 2 s; the server says nothing to watchers when it does.
    const bucket = await new Kvm(nc).create(`${createTestNamespace().toUpperCase()}_REVOCATIONS`, { history: 1, ttl: 2_000 });
    const writer = new RevocationWriter(bucket);
    const mirror = new RevocationMirror(bucket);
    await mirror.start();
    try {
      const session = { sub: randomUUID(), sid: randomUUID() };
      const account = { sub: randomUUID(), sid: randomUUID() };
      await writer.revokeSessions([session.sid]);
      await writer.revokeUser(account.sub);
      await eventually(() => mirror.isRevoked(session) && mirror.isRevoked(account), { what: 'revocations mirrored' });
      expect(mirror.isRevoked({ sub: randomUUID(), sid: randomUUID() })).toBe(false);
      expect(mirror.size).toBe(2);

      await eventually(() => !mirror.isRevoked(session) && !mirror.isRevoked(account) && mirror.size === 0, { timeoutMs: 8_000, what: 'aged-out entries forgotten' });
    } finally {
      mirror.stop();
      await bucket.destroy();
    }
  }, 20_000);
});
