import { Injectable } from '@nestjs/common';
import type { CallerContext, IdentityRpc, RpcRequest } from '@homiwork/contracts';
import { IdentityErrors } from '../../identity-errors.js';
import { UsersRepository } from '../../persistence/users.repository.js';
import { BlockAccount } from '../block-account/block-account.usecase.js';

/**
 * An operator blocks an account (§12.2): BlockAccount with reason `operator`, the operator
 * and their reason recorded in identity's security event. Blocking an account already
 * blocked, or pending erasure and blocked, changes nothing and is not an error.
 */
@Injectable()
export class OperatorBlockUser {
  constructor(
    private readonly users: UsersRepository,
    private readonly blockAccount: BlockAccount,
  ) {}

  async execute(input: RpcRequest<typeof IdentityRpc.AdminBlockUserRoute>, caller: CallerContext): Promise<Record<string, never>> {
    if (caller.role !== 'operator') throw IdentityErrors.operatorOnly();
    if (!(await this.users.findById(input.userId))) throw IdentityErrors.userNotFound();
    await this.blockAccount.execute(input.userId, 'operator', { origin: caller, operator: { operatorUserId: caller.userId, detail: input.reason } });
    return {};
  }
}
