import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccessTokenClaims } from '@homiwork/auth';
import type { CallerContext } from '@homiwork/contracts';
import { dropForwardingHeaders, hashClientAddress } from './client-address.js';
import { coarseUserAgent } from './user-agent.js';

/** What the gateway knows about a request after the edge: hashes and ids, no address. */
export interface EdgeContext {
  requestId: string;
  ipHash: string;
  userAgent: string | null;
  claims?: AccessTokenClaims;
}

declare module 'fastify' {
  interface FastifyRequest {
    edge: EdgeContext;
  }
}

export function registerEdge(app: FastifyInstance, salt: string): void {
  app.decorateRequest('edge', null as unknown as EdgeContext);
  app.addHook('onRequest', (request, reply, done) => {
    const supplied = request.headers['x-request-id'];
    const requestId = typeof supplied === 'string' && /^[A-Za-z0-9._-]{8,64}$/.test(supplied) ? supplied : randomUUID();
    request.edge = { requestId, ipHash: hashClientAddress(request, salt), userAgent: coarseUserAgent(request.headers['user-agent']) };
    dropForwardingHeaders(request);
    void reply.header('x-request-id', requestId);
    done();
  });
}

/** The caller context forwarded to services over NATS. */
export function callerOf(request: FastifyRequest): CallerContext {
  const { edge } = request;
  return {
    requestId: edge.requestId,
    ipHash: edge.ipHash,
    ...(edge.userAgent ? { userAgent: edge.userAgent } : {}),
    ...(edge.claims ? { userId: edge.claims.sub, role: edge.claims.role, sessionId: edge.claims.sid } : {}),
  };
}
