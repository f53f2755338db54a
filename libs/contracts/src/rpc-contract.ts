import { z } from 'zod';
import type { ServiceName } from './services.js';

/**
 * A request/reply route from the gateway (or another service) to a service over core
 * NATS: the request and response schemas are checked on both sides of the wire.
 */
export interface RpcRoute<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> {
  readonly service: ServiceName;
  /** `me.get`: dotted, lower-case; part of the subject, so a stored identifier. */
  readonly method: string;
  readonly request: Req;
  readonly response: Res;
  /**
   * The services whose NATS users may call it (libs/system-runner/src/nats-permissions.ts).
   * Public routes are the gateway's; a service-to-service route names its callers, and the
   * gateway then cannot reach it.
   */
  readonly callers: readonly ServiceName[];
}

export type RpcRequest<R extends RpcRoute> = z.infer<R['request']>;
export type RpcResponse<R extends RpcRoute> = z.infer<R['response']>;

export function defineRoute<Req extends z.ZodType, Res extends z.ZodType>(spec: {
  service: ServiceName;
  method: string;
  request: Req;
  response: Res;
  callers?: readonly ServiceName[];
}): RpcRoute<Req, Res> {
  if (!/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/.test(spec.method)) throw new Error(`invalid rpc method name: ${spec.method}`);
  const callers = spec.callers ?? ['gateway'];
  if (callers.includes(spec.service)) throw new Error(`${spec.service}.${spec.method}: a service does not call itself`);
  return { ...spec, callers };
}

/**
 * Who is calling, as established by the gateway: opaque ids and the address hash only.
 * The raw client address never enters this object (R2.1).
 */
export const CallerContext = z.strictObject({
  requestId: z.string().min(1).max(64),
  userId: z.uuid().optional(),
  role: z.enum(['user', 'operator']).optional(),
  ipHash: z.string().regex(/^[a-f0-9]{64}$/).optional(),
  userAgent: z.string().max(120).optional(),
  /** The session (refresh-token family) the access token belongs to: lets a change end the other sessions but not the caller's own. */
  sessionId: z.uuid().optional(),
});
export type CallerContext = z.infer<typeof CallerContext>;

/** The error a service answers with; the gateway maps it to the HTTP error body of API.md. */
export const RpcErrorBody = z.strictObject({
  status: z.number().int().min(400).max(599),
  code: z.string().regex(/^[a-z][a-z0-9_]*$/),
  message: z.string().max(500),
  retryAfterSeconds: z.number().int().positive().optional(),
});
export type RpcErrorBody = z.infer<typeof RpcErrorBody>;
