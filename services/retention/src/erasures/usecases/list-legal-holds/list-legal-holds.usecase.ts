import { Injectable } from '@nestjs/common';
import type { CallerContext, RetentionRpc, RpcRequest, RpcResponse } from '@homiwork/contracts';
import { requireOperator } from '../../erasure-errors.js';
import { LegalHoldsRepository } from '../../persistence/legal-holds.repository.js';

/** Holds for operators (current and released, newest first), and the users under an active hold for the services' safety nets. */
@Injectable()
export class ListLegalHolds {
  constructor(private readonly holds: LegalHoldsRepository) {}

  async execute(request: RpcRequest<typeof RetentionRpc.ListLegalHoldsRoute>, caller: CallerContext): Promise<RpcResponse<typeof RetentionRpc.ListLegalHoldsRoute>> {
    requireOperator(caller);
    const holds = await this.holds.list(request.userId);
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

  /** ActiveHoldsRoute: asked before every safety-net sweep; never cached. */
  async activeUserIds(): Promise<{ userIds: string[] }> {
    return { userIds: await this.holds.activeUserIds() };
  }
}
