import { ChatRpc } from '@homiwork/contracts';
import { GatewayError, GatewayErrors } from '../errors/gateway-error.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A malformed id is simply not found (API.md: unknown ids answer 404), and never reaches a service. */
export function resourceId(id: string): string {
  if (!UUID.test(id)) throw GatewayErrors.notFound();
  return id;
}

/** An assistant id that cannot exist is not found either, by the contract's own pattern. */
export function assistantId(id: string): string {
  if (!ChatRpc.AssistantId.safeParse(id).success) throw GatewayErrors.notFound();
  return id;
}

/** `?name=true|false`, absent is `fallback`; anything else (another word, the name twice) is a 400 naming it. */
export function booleanQuery(query: unknown, name: string, fallback: boolean): boolean {
  const value = (query as Record<string, unknown> | undefined)?.[name];
  if (value === undefined) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new GatewayError(400, 'validation_failed', `${name}: must be true or false`);
}
