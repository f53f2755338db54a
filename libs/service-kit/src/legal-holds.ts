import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { RetentionRpc } from '@homiwork/contracts';
import { RpcClient } from '@homiwork/messaging';

/**
 * Retention did not answer (or answered wrongly) which users are under a legal hold: the
 * caller must delete nothing. The RpcError is its `cause`, so an event consumer sees a
 * down or slow retention (503/504) as an unreachable dependency (libs/messaging
 * failure-kind.ts): the event is held and tried again, never dead-lettered for it.
 */
export class LegalHoldsUnknown extends Error {
  override readonly name = 'LegalHoldsUnknown';
  constructor(cause: unknown) {
    super('legal holds unknown: retention did not answer holds.active', { cause });
  }
}

/** One batch of a sweep's candidates, read without locks: how many rows, and their distinct owners (rows with no owner count in `rows` only). */
export interface SweepCandidates {
  rows: number;
  userIds: readonly string[];
}

/**
 * Legal holds (§12.2) as a service sees them: which of some users are under a hold now,
 * asked of retention just before anything of theirs is deleted — by a safety-net sweep
 * (about the distinct owners of one batch of candidates) or by an expiry-event handler
 * (about the one owner). Bounded: at most ACTIVE_HOLDS_MAX_USER_IDS ids per request, and
 * the answer only names ids that were asked, so it never grows with the number of holds.
 * Fails closed: without an answer it throws LegalHoldsUnknown and nothing is deleted.
 * Asked afresh every time, never cached: a hold placed a second ago already counts.
 */
@Injectable()
export class LegalHolds {
  constructor(private readonly rpc: RpcClient) {}

  /** The held ones among `userIds` (duplicates allowed; asked in chunks of ACTIVE_HOLDS_MAX_USER_IDS). Throws LegalHoldsUnknown. */
  async heldAmong(userIds: Iterable<string>): Promise<Set<string>> {
    const unique = [...new Set(userIds)];
    const held = new Set<string>();
    for (let start = 0; start < unique.length; start += RetentionRpc.ACTIVE_HOLDS_MAX_USER_IDS) {
      const chunk = unique.slice(start, start + RetentionRpc.ACTIVE_HOLDS_MAX_USER_IDS);
      let answer: { heldUserIds: string[] };
      try {
        answer = await this.rpc.call(RetentionRpc.ActiveHoldsRoute, { userIds: chunk }, { requestId: randomUUID() });
      } catch (error) {
        throw new LegalHoldsUnknown(error);
      }
      const asked = new Set(chunk);
      for (const userId of answer.heldUserIds) if (asked.has(userId)) held.add(userId);
    }
    return held;
  }

  /**
   * One safety-net pass in batches, each asking about its own candidates only:
   * `candidates(heldSoFar)` reads (unlocked) the next at most `batchSize` due rows, none of
   * the users found held so far in this pass (so held rows, however old, never stall the
   * pass — and that exclusion list holds only held owners of candidates, never every hold);
   * their owners are asked; `purge(cleared)` then deletes a batch of due rows whose owner is
   * among `cleared` (the candidates' owners just found not held; ownerless rows where a table
   * has them), locking them, and returns how many it deleted (`count`) and took (`seen`).
   * Ends when a batch of candidates is short, or when a batch changed nothing (rows locked
   * by another instance). Throws LegalHoldsUnknown as soon as a question goes unanswered:
   * the batches already done stay done, nothing more is deleted.
   */
  async sweep(options: {
    batchSize: number;
    candidates(heldSoFar: readonly string[]): Promise<SweepCandidates>;
    purge(cleared: readonly string[]): Promise<{ count: number; seen: number }>;
  }): Promise<number> {
    const heldSoFar = new Set<string>();
    let total = 0;
    for (;;) {
      const candidates = await options.candidates([...heldSoFar]);
      if (candidates.rows === 0) break;
      const held = candidates.userIds.length > 0 ? await this.heldAmong(candidates.userIds) : new Set<string>();
      const before = heldSoFar.size;
      for (const userId of held) heldSoFar.add(userId);
      const cleared = candidates.userIds.filter((userId) => !held.has(userId));
      const purged = await options.purge(cleared);
      total += purged.count;
      if (candidates.rows < options.batchSize) break;
      // Nothing taken and nobody newly held: the next candidates would be the same ones.
      if (purged.seen === 0 && heldSoFar.size === before) break;
    }
    return total;
  }
}
