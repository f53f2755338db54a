import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import type { CallerContext, IdentityRpc, RpcRequest } from '@homiwork/contracts';
import { PasswordHasher } from '../../crypto/password-hasher.js';
import { IdentityErrors } from '../../identity-errors.js';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';
import { UsersRepository } from '../../persistence/users.repository.js';
import { confirmPasswordForErasure } from '../delete-account/delete-account.usecase.js';
import { RequestErasure } from '../request-erasure/request-erasure.usecase.js';

/**
 * A privacy request of type `erasure` (§9.1, R7.2), passed on by retention: verified with the
 * account's password exactly like DELETE /v1/me — every time, even when an erasure is
 * already open, so a duplicate request is never a way around the verification — and then
 * the same path (RequestErasure, reason `privacy_request`). An open erasure is answered
 * with its id.
 */
@Injectable()
export class PrivacyErasure {
  constructor(
    private readonly users: UsersRepository,
    private readonly securityEvents: SecurityEventsRepository,
    private readonly hasher: PasswordHasher,
    private readonly requestErasure: RequestErasure,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(input: RpcRequest<typeof IdentityRpc.RequestErasureRoute>, caller: CallerContext): Promise<{ erasureId: string }> {
    const user = await this.users.findById(input.userId);
    if (!user) throw IdentityErrors.userNotFound();
    await confirmPasswordForErasure(user, input.password, caller, { securityEvents: this.securityEvents, hasher: this.hasher, clock: this.clock });
    const outcome = await this.requestErasure.execute(user.id, 'privacy_request', { origin: caller });
    if (outcome.status === 'requested' || outcome.status === 'pending') return { erasureId: outcome.erasureId };
    throw IdentityErrors.userNotFound();
  }
}
