import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import type { CallerContext, RetentionRpc, RpcRequest, RpcResponse } from '@homiwork/contracts';
import { erasureView, missingServices } from '../../domain/erasure-view.js';
import { requireOperator } from '../../erasure-errors.js';
import { ErasuresRepository } from '../../persistence/erasures.repository.js';

/** Operators' list (R7.4): erasures with the services still to confirm; `overdue` narrows to those in progress past their deadline (held ones wait for the law, not for a service). */
@Injectable()
export class ListErasures {
  constructor(
    private readonly erasures: ErasuresRepository,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(request: RpcRequest<typeof RetentionRpc.AdminListErasuresRoute>, caller: CallerContext): Promise<RpcResponse<typeof RetentionRpc.AdminListErasuresRoute>> {
    requireOperator(caller);
    const now = this.clock.now();
    const records = await this.erasures.list(request.overdue ? { overdueAt: now } : {});
    return { items: records.map((record) => ({ ...erasureView(record, now), missingServices: missingServices(record) })) };
  }
}
