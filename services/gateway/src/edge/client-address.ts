import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/**
 * The one place the raw client address is read (R2.1, §2.1.4): it is hashed with the
 * private salt at once, and only the hash travels on. Which address is "the client" is
 * decided by Fastify's trustProxy setting (the socket peer, or a trusted proxy's
 * X-Forwarded-For). Lint forbids reading `.ip` anywhere else.
 */
export function hashClientAddress(request: FastifyRequest, salt: string): string {
  return createHash('sha256').update(salt).update(request.ip).digest('hex');
}

const FORWARDING_HEADERS = ['x-forwarded-for', 'x-real-ip', 'forwarded', 'cf-connecting-ip', 'true-client-ip'];

/** Once hashed, the address must not linger where later code could pick it up. */
export function dropForwardingHeaders(request: FastifyRequest): void {
  for (const header of FORWARDING_HEADERS) delete request.headers[header];
}
