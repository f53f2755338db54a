import { Controller, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { RevocationMirror } from '@homiwork/auth';
import { HealthLive, HealthReady, systemReadyRoute } from '@homiwork/contracts';
import { RpcClient, type NatsHandles } from '@homiwork/messaging';
import { NATS } from '@homiwork/service-kit';
import { GatewayConfig } from '../config.js';
import { ServeRoute } from './http-route.decorator.js';

/** Public health: ready only when NATS, the revocation list and every downstream service (its database and storage) are. */
@Controller()
export class HealthController {
  private readonly downstream: GatewayConfig['DOWNSTREAM_SERVICES'];

  constructor(
    private readonly rpc: RpcClient,
    private readonly revocations: RevocationMirror,
    @Inject(NATS) private readonly nats: NatsHandles,
    @Inject(GatewayConfig) config: GatewayConfig,
  ) {
    this.downstream = config.DOWNSTREAM_SERVICES;
  }

  @ServeRoute(HealthLive)
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @ServeRoute(HealthReady)
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<{ status: 'ok' | 'unavailable'; checks: Record<string, 'ok' | 'failing'> }> {
    const checks: Record<string, 'ok' | 'failing'> = {};
    checks.nats = await this.nats.nc.rtt().then(
      () => 'ok' as const,
      () => 'failing' as const,
    );
    checks.revocations = this.revocations.ready ? 'ok' : 'failing';
    await Promise.all(
      this.downstream.map(async (service) => {
        const report = await this.rpc.call(systemReadyRoute(service), {}, { requestId: 'health' }, { timeoutMs: 2_000 }).catch(() => undefined);
        checks[service] = report?.ready ? 'ok' : 'failing';
      }),
    );
    const ready = Object.values(checks).every((check) => check === 'ok');
    if (!ready) void reply.status(503);
    return { status: ready ? 'ok' : 'unavailable', checks };
  }
}
