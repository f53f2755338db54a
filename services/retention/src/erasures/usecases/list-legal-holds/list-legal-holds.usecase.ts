import { Injectable } from '@nestjs/common';
import { RetentionRpc, type CallerContext, type RpcRequest, type RpcResponse } from '@homiwork/contracts';
import { pageCursor, requireOperator } from '../../erasure-errors.js';
import { LegalHoldsRepository } from '../../persistence/legal-holds.repository.js';

/**
 * Holds for operators (current and released, newest first, OPERATOR_LIST_PAGE_SIZE at a
 * time, `before`/`beforeId` page on), and which of a batch of users are under an active
 * hold, for the services' safety nets and expiry handlers.
 */
@Injectable()
export class ListLegalHolds {
  constructor(private readonly holds: LegalHoldsRepository) {}

  async execute(request: RpcRequest<typeof RetentionRpc.ListLegalHoldsRoute>, caller: CallerContext): Promise<RpcResponse<typeof RetentionRpc.ListLegalHoldsRoute>> {
    requireOperator(caller);
    const cursor = pageCursor(request);
    const holds = await this.holds.list({ ...(request.userId ? { userId: request.userId } : {}), ...cursor }, RetentionRpc.OPERATOR_LIST_PAGE_SIZE);
    return {
      items: holds.map((hold) => ({
        id: hold.id,
        userId: hold.userId,
        reason: hold.reason,
        source: hold.source,
        placedAt: hold.placedAt.toISOString(),
        ...(hold.releasedAt ? { releasedAt: hold.releasedAt.toISOString() } : {}),
      })),
    };
  }

  /**
   * ActiveHoldsRoute: those of the asked users (at most ACTIVE_HOLDS_MAX_USER_IDS, the
   * contract's bound) under an active hold now — the answer is never larger than the
   * question, however many holds stand. Never cached.
   */
  async heldAmong(userIds: readonly string[]): Promise<RpcResponse<typeof RetentionRpc.ActiveHoldsRoute>> {
    return { heldUserIds: await this.holds.activeAmong(userIds) };
  }
}
