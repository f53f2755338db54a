import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { objectKey, parseObjectKey } from './object-key.js';

const owner = randomUUID();

const INVALID_OWNER_IDS = [
  '',
  'not-a-uuid',
  owner.toUpperCase(),
  '00000000-0000-0000-0000-000000000000',
  `${owner}/..`,
  `../${owner}`,
  ` ${owner}`,
  owner.replaceAll('-', ''),
];
const INVALID_NAMES = [
  '',
  '..',
  '../x',
  'a/../b',
  'a..b',
  '/abs',
  'a/',
  'a//b',
  '.hidden',
  'a\u0000b',
  'a\nb',
  'a b',
  'a%2F..',
  'a+b',
  'résumé.pdf',
  'x'.repeat(257),
];

describe('object keys', () => {
  it('are service, owner and name', () => {
    expect(objectKey('media', owner, 'uploads/a1.jpg')).toBe(`media/${owner}/uploads/a1.jpg`);
    expect(parseObjectKey('media', `media/${owner}/uploads/a1.jpg`)).toEqual({ ownerId: owner, name: 'uploads/a1.jpg' });
  });

  it('refuse owner ids that are not one canonical UUID', () => {
    for (const ownerId of INVALID_OWNER_IDS) expect(() => objectKey('media', ownerId, 'a'), ownerId).toThrow(TypeError);
  });

  it('refuse names that could leave the prefix or carry control characters', () => {
    for (const name of INVALID_NAMES) expect(() => objectKey('media', owner, name), JSON.stringify(name)).toThrow(TypeError);
  });

  it("refuse keys outside this service's owner prefixes", () => {
    const other = randomUUID();
    for (const key of [
      `generation/${owner}/a`,
      `media/${owner}`,
      `media/${owner}/../${other}/a`,
      `media/../media/${owner}/a`,
      `/media/${owner}/a`,
      `media//${owner}/a`,
      `mediax/${owner}/a`,
    ]) {
      expect(() => parseObjectKey('media', key), key).toThrow(TypeError);
    }
  });

  it('never repeat the rejected input', () => {
    try {
      objectKey('media', `${owner}x`, 'a');
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain(owner);
    }
  });
});
