import { z } from 'zod';
import { defineRoute, type RpcRoute } from '../rpc-contract.js';
import type { ServiceName } from '../services.js';

export const ReadinessReport = z.strictObject({ ready: z.boolean(), checks: z.record(z.string(), z.enum(['ok', 'failing'])) });

/** Every service answers its readiness over NATS too, so the gateway's /health/ready covers the system. */
export function systemReadyRoute(service: ServiceName): RpcRoute<z.ZodObject<Record<string, never>>, typeof ReadinessReport> {
  return defineRoute({ service, method: 'system.ready', request: z.strictObject({}), response: ReadinessReport, callers: service === 'gateway' ? [] : ['gateway'] });
}
