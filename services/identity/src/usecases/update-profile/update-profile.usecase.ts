import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock } from '@homiwork/clock';
import type { CallerContext, IdentityRpc, RpcRequest } from '@homiwork/contracts';
import { IdentityErrors } from '../../identity-errors.js';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';
import { UniqueViolation, UsersRepository } from '../../persistence/users.repository.js';
import { toProfile } from '../profile-view.js';

/** R1.4 rectification (§9.1): the user changes email or username. */
@Injectable()
export class UpdateProfile {
  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
    private readonly securityEvents: SecurityEventsRepository,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(input: RpcRequest<typeof IdentityRpc.UpdateProfileRoute>, caller: CallerContext): Promise<ReturnType<typeof toProfile>> {
    const userId = caller.userId;
    if (!userId) throw IdentityErrors.unauthenticated();
    try {
      return await this.dataSource.transaction(async (manager) => {
        const updated = await this.users.update(manager, userId, { ...(input.email ? { email: input.email } : {}), ...(input.username ? { username: input.username } : {}) });
        if (!updated) throw IdentityErrors.unauthenticated();
        await this.securityEvents.record(manager, { userId, type: 'profile_changed', origin: caller, now: this.clock.now() });
        return toProfile(updated);
      });
    } catch (error) {
      if (error instanceof UniqueViolation) throw error.field === 'email' ? IdentityErrors.emailTaken() : IdentityErrors.usernameTaken();
      throw error;
    }
  }
}
