import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { IdentityRpc, UserRegisteredV1, type CallerContext, type RpcRequest, type RpcResponse } from '@homiwork/contracts';
import { Transactor } from '@homiwork/persistence';
import { EventsOutbox } from '@homiwork/messaging';
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
    private readonly transactor: Transactor,
    private readonly users: UsersRepository,
    private readonly securityEvents: SecurityEventsRepository,
    private readonly hasher: PasswordHasher,
    private readonly outbox: EventsOutbox,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(input: Input, caller: CallerContext, role: 'user' | 'operator' = 'user'): Promise<RpcResponse<typeof IdentityRpc.RegisterRoute>> {
    if (!this.hasher.isAcceptable(input.password, input.username)) throw IdentityErrors.weakPassword();
    const passwordHash = await this.hasher.hash(input.password);
    const now = this.clock.now();
    try {
      const user = await this.transactor.run(async () => {
        const created = await this.users.insert({ id: randomUUID(), email: input.email, username: input.username, passwordHash, role, now });
        await this.securityEvents.record({ userId: created.id, type: 'registered', origin: caller, now });
        await this.outbox.append(UserRegisteredV1, { userId: created.id, registeredAt: now.toISOString() });
        return created;
      });
      return { user: toPublicUser(user) };
    } catch (error) {
      if (error instanceof UniqueViolation) throw error.field === 'email' ? IdentityErrors.emailTaken() : IdentityErrors.usernameTaken();
      throw error;
    }
  }
}
