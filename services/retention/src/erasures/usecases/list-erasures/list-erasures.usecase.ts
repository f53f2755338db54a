import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { RetentionRpc, type CallerContext, type RpcRequest, type RpcResponse } from '@homiwork/contracts';
import { erasureView, missingServices } from '../../domain/erasure-view.js';
import { pageCursor, requireOperator } from '../../erasure-errors.js';
import { ErasuresRepository } from '../../persistence/erasures.repository.js';

/**
 * Operators' list (R7.4): erasures with the services still to confirm, `held` ones shown as
 * such (only here); `overdue` narrows to those in progress past their deadline (held ones
 * wait for the law, not for a service). Newest request first, OPERATOR_LIST_PAGE_SIZE at a
 * time (a NATS reply must stay under 1 MB); `before`/`beforeId` page on.
 */
@Injectable()
export class ListErasures {
  constructor(
    private readonly erasures: ErasuresRepository,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(request: RpcRequest<typeof RetentionRpc.AdminListErasuresRoute>, caller: CallerContext): Promise<RpcResponse<typeof RetentionRpc.AdminListErasuresRoute>> {
    requireOperator(caller);
    const cursor = pageCursor(request);
    const now = this.clock.now();
    const records = await this.erasures.list({ ...(request.overdue ? { overdueAt: now } : {}), ...cursor }, RetentionRpc.OPERATOR_LIST_PAGE_SIZE);
    return { items: records.map((record) => ({ ...erasureView(record, now), missingServices: missingServices(record) })) };
  }
}
