import { Injectable } from '@nestjs/common';
import type { CallerContext, IdentityRpc, RpcRequest } from '@homiwork/contracts';
import { IdentityErrors } from '../../identity-errors.js';
import { RequestErasure } from '../request-erasure/request-erasure.usecase.js';

/**
 * An operator erases an account at once (§13.2 minors, or any operator decision): the same
 * path as the user's own deletion (RequestErasure, reason `operator`), so a legal hold
 * still stops the deletion while the account is disabled now. The operator and the reason
 * they typed are recorded in identity's security event only — the reason is free text that
 * may name people, so it travels in no event. On an account already pending erasure it
 * answers that erasure's id.
 */
@Injectable()
export class OperatorEraseUser {
  constructor(private readonly requestErasure: RequestErasure) {}

  async execute(input: RpcRequest<typeof IdentityRpc.AdminEraseUserRoute>, caller: CallerContext): Promise<{ erasureId: string }> {
    if (caller.role !== 'operator') throw IdentityErrors.operatorOnly();
    const outcome = await this.requestErasure.execute(input.userId, 'operator', { origin: caller, operator: { operatorUserId: caller.userId, detail: input.reason } });
    if (outcome.status === 'requested' || outcome.status === 'pending') return { erasureId: outcome.erasureId };
    throw IdentityErrors.userNotFound();
  }
}
