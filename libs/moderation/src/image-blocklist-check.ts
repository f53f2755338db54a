import { hammingDistance } from '@homiwork/perceptual-hash';
import type { ModerationCheck, ModerationVerdict } from './moderation.js';

/**
 * Refuses images whose dHash is within `maxDistance` bits of a listed hash, so re-encoded,
 * resized or slightly edited copies of a known prohibited image still match. The rule
 * names the list position, not the hash.
 */
export class ImageBlocklistCheck implements ModerationCheck {
  readonly name = 'image-blocklist';

  constructor(
    private readonly hashes: readonly bigint[],
    private readonly maxDistance = 6,
  ) {
    if (!Number.isInteger(maxDistance) || maxDistance < 0 || maxDistance > 64) throw new Error('maxDistance must be an integer from 0 to 64');
  }

  checkImage(image: { dHash: bigint }): Promise<ModerationVerdict> {
    const index = this.hashes.findIndex((listed) => hammingDistance(listed, image.dHash) <= this.maxDistance);
    return Promise.resolve(index === -1 ? { allowed: true } : { allowed: false, rule: `image-blocklist:${index}` });
  }
}
