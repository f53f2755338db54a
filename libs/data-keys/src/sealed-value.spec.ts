import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DataKeyError } from './errors.js';
import { openValue, SEALED_OVERHEAD_BYTES, sealValue } from './sealed-value.js';

// The sealed format on its own, with one data key shared on purpose, so the binding to
// the user and to the version byte is what refuses (not merely a different key).

describe('sealed values', () => {
  const dataKey = randomBytes(32);
  const alice = randomUUID();

  it('round-trips and has the documented layout', () => {
    const sealed = sealValue(dataKey, alice, 1, 'héllo');
    expect(sealed[0]).toBe(1);
    expect(sealed.length).toBe(Buffer.byteLength('héllo') + SEALED_OVERHEAD_BYTES);
    expect(openValue(dataKey, alice, 1, sealed)).toBe('héllo');
  });

  it('is bound to the user: the same key does not open it for another user', () => {
    const sealed = sealValue(dataKey, alice, 1, 'alice only');
    expect(() => openValue(dataKey, randomUUID(), 1, sealed)).toThrow(/sealed value failed authentication/);
  });

  it('is bound to its version byte: a relabelled value is refused, by the header check and by the tag', () => {
    const sealed = sealValue(dataKey, alice, 1, 'text');
    const relabelled = Buffer.from(sealed);
    relabelled[0] = 2;
    expect(() => openValue(dataKey, alice, 1, relabelled)).toThrow("sealed value names data key version 2, the user's key is version 1");
    // Even where the header matches the expected version, the tag covers it.
    expect(() => openValue(dataKey, alice, 2, relabelled)).toThrow(/sealed value failed authentication/);
  });

  it('refuses a different key and a short value with a DataKeyError', () => {
    const sealed = sealValue(dataKey, alice, 1, 'text');
    expect(() => openValue(randomBytes(32), alice, 1, sealed)).toThrow(DataKeyError);
    expect(() => openValue(dataKey, alice, 1, sealed.subarray(0, SEALED_OVERHEAD_BYTES - 1))).toThrow('sealed value is too short');
  });
});
