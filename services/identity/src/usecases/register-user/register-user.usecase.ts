import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock } from '@homiwork/clock';
import { IdentityRpc, UserRegisteredV1, type CallerContext, type RpcRequest, type RpcResponse } from '@homiwork/contracts';
import { Outbox } from '@homiwork/messaging';
import { PasswordHasher } from '../../crypto/password-hasher.js';
import { IdentityErrors } from '../../identity-errors.js';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';
import { UniqueViolation, UsersRepository } from '../../persistence/users.repository.js';
import { toPublicUser } from '../profile-view.js';

type Input = RpcRequest<typeof IdentityRpc.RegisterRoute>;

/** R1.1: email, username, password and the 18+ affirmation — nothing else is asked for. */
@Injectable()
export class RegisterUser {
  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
    private readonly securityEvents: SecurityEventsRepository,
    private readonly hasher: PasswordHasher,
    private readonly outbox: Outbox,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(input: Input, caller: CallerContext, role: 'user' | 'operator' = 'user'): Promise<RpcResponse<typeof IdentityRpc.RegisterRoute>> {
    if (this.hasher.isCommon(input.password) || input.password.toLowerCase().includes(input.username.toLowerCase())) throw IdentityErrors.weakPassword();
    const passwordHash = await this.hasher.hash(input.password);
    const now = this.clock.now();
    try {
      const user = await this.dataSource.transaction(async (manager) => {
        const row = await this.users.insert(manager, { id: randomUUID(), email: input.email, username: input.username, passwordHash, role, now });
        await this.securityEvents.record(manager, { userId: row.id, type: 'registered', origin: caller, now });
        await this.outbox.append(manager, UserRegisteredV1, { userId: row.id, registeredAt: now.toISOString() });
        return row;
      });
      return { user: toPublicUser(user) };
    } catch (error) {
      if (error instanceof UniqueViolation) throw error.field === 'email' ? IdentityErrors.emailTaken() : IdentityErrors.usernameTaken();
      throw error;
    }
  }
}
