/**
 * Object keys are `${service}/${ownerId}/${name}`. The owner prefix is how a service keeps
 * each user's objects apart and how erasure finds all of them, so every part is checked
 * against a narrow grammar rather than a list of bad characters: a key that passes cannot
 * climb out of its prefix, carry control characters, or need URL escaping (s3rver ignores
 * `encoding-type=url` in listings while the client decodes, so `%` or `+` would not survive).
 * Error messages never repeat the rejected input.
 */

const SERVICE = /^[a-z][a-z0-9-]{0,31}$/;
// Canonical lowercase RFC 9562 UUID (version 1-8). One spelling per owner means one prefix
// per owner; the nil and max UUIDs are refused, as they are placeholders, not people.
const OWNER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
// A segment is dot-separated runs of [A-Za-z0-9_-]: no empty, `.` or `..` segments.
const SEGMENT = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
const MAX_NAME_LENGTH = 256;

export function assertService(service: string): void {
  if (!SERVICE.test(service)) {
    throw new TypeError('service must be a lowercase name of at most 32 characters');
  }
}

function assertOwnerId(ownerId: string): void {
  if (typeof ownerId !== 'string' || !OWNER_ID.test(ownerId)) {
    throw new TypeError('ownerId must be a lowercase UUID');
  }
}

function assertObjectName(name: string): void {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > MAX_NAME_LENGTH ||
    name.includes('..') ||
    !name.split('/').every((segment) => SEGMENT.test(segment))
  ) {
    throw new TypeError('object name must be 1-256 characters of [A-Za-z0-9._-] segments separated by "/"');
  }
}

export function ownerPrefix(service: string, ownerId: string): string {
  assertOwnerId(ownerId);
  return `${service}/${ownerId}/`;
}

export function objectKey(service: string, ownerId: string, name: string): string {
  const prefix = ownerPrefix(service, ownerId);
  assertObjectName(name);
  return prefix + name;
}

/** Accepts only a key this service could have built; returns its owner. */
export function parseObjectKey(service: string, key: string): { ownerId: string; name: string } {
  if (typeof key !== 'string' || !key.startsWith(`${service}/`)) {
    throw new TypeError("object key is not under this service's prefix");
  }
  const rest = key.slice(service.length + 1);
  const slash = rest.indexOf('/');
  if (slash < 0) throw new TypeError('object key has no owner prefix');
  const ownerId = rest.slice(0, slash);
  const name = rest.slice(slash + 1);
  assertOwnerId(ownerId);
  assertObjectName(name);
  return { ownerId, name };
}
