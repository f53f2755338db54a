import { afterAll, describe, expect, it } from 'vitest';
import { NestFactory } from '@nestjs/core';
import { connect } from '@nats-io/transport-node';
import { baseServiceConfig, loadConfig } from '@homiwork/config';
import { IdentityRpc, rpcSubject } from '@homiwork/contracts';
import { RpcClient } from '@homiwork/messaging';
import { createTestNamespace, TEST_NATS_URL } from '@homiwork/testing';
import { ServiceKitModule } from '../src/index.js';

const nc = await connect({ servers: TEST_NATS_URL });
afterAll(() => nc.close());

describe('RPC_TIMEOUT_MS', () => {
  it('is how long a service waits for another before answering 504', async () => {
    const namespace = createTestNamespace();
    const config = loadConfig(baseServiceConfig, { NODE_ENV: 'test', NATS_URL: TEST_NATS_URL, EVENT_NAMESPACE: namespace, RPC_TIMEOUT_MS: '300', EVENT_STREAM_MAX_BYTES: String(16 * 1024 * 1024), LOG_LEVEL: 'silent' });
    // Someone takes the request and never answers.
    const silent = nc.subscribe(rpcSubject(namespace, 'identity', IdentityRpc.GetProfileRoute.method), { callback: () => undefined });
    const app = await NestFactory.createApplicationContext(ServiceKitModule.forRoot({ service: 'gateway', config }), { logger: false });
    try {
      const started = performance.now();
      await expect(app.get(RpcClient).call(IdentityRpc.GetProfileRoute, {}, { requestId: 'timeout-test' })).rejects.toMatchObject({ status: 504, code: 'service_timeout' });
      const waited = performance.now() - started;
      expect(waited).toBeGreaterThanOrEqual(250);
      expect(waited).toBeLessThan(3_000);
    } finally {
      silent.unsubscribe();
      await app.close();
    }
  }, 20_000);
});
