import { UserErased, type UserTombstones } from '@homiwork/persistence';

/**
 * The tombstone guard for work that arrives as an event or a notification rather than as
 * the user's request: an erased user has nothing left here to change, so the work is
 * skipped (false) instead of failing and being retried forever. Inside a transaction,
 * before any write for the user, like `guard` itself.
 */
export async function unlessErased(tombstones: UserTombstones, userId: string): Promise<boolean> {
  try {
    await tombstones.guard(userId);
    return true;
  } catch (error) {
    if (error instanceof UserErased) return false;
    throw error;
  }
}
