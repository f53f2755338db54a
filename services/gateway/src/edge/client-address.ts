import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { FastifyRequest } from 'fastify';

/**
 * The one place the raw client address is read (R2.1, §2.1.4): it is hashed with the
 * private salt at once, and only the hash travels on. Which address is "the client" is
 * decided by Fastify's trustProxy setting (the socket peer, or a trusted proxy's
 * X-Forwarded-For). Lint forbids reading `.ip` anywhere else.
 */
export function hashClientAddress(request: FastifyRequest, salt: string): string {
  return createHash('sha256').update(salt).update(clientNetwork(request.ip)).digest('hex');
}

/**
 * What the hash is taken of: an IPv4 address as it is (also when it arrives IPv4-mapped),
 * an IPv6 address as its /64. One subscriber line gets a whole /64, so keying on the full
 * address would give one client 2^64 rate-limit budgets; the /64 is also all an abuse
 * investigation needs.
 */
export function clientNetwork(ip: string): string {
  const address = ip.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIPv4(address) || !isIPv6(address)) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = address.includes('::') ? (tail ? tail.split(':') : []) : [];
  // An embedded IPv4 tail counts as two groups; only the first four groups matter here.
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}

const FORWARDING_HEADERS = ['x-forwarded-for', 'x-real-ip', 'forwarded', 'cf-connecting-ip', 'true-client-ip'];

/** Once hashed, the address must not linger where later code could pick it up. */
export function dropForwardingHeaders(request: FastifyRequest): void {
  for (const header of FORWARDING_HEADERS) delete request.headers[header];
}
