import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import type { CallerContext, IdentityRpc, RpcRequest } from '@homiwork/contracts';
import { Transactor } from '@homiwork/persistence';
import { PasswordHasher } from '../../crypto/password-hasher.js';
import { IdentityErrors } from '../../identity-errors.js';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';
import { SessionsRepository } from '../../persistence/sessions.repository.js';
import { UsersRepository } from '../../persistence/users.repository.js';
import { RecordActivity } from '../record-activity/record-activity.usecase.js';
import { SessionTokens, type TokenPair } from '../session-tokens.js';

/** R1.3: log in by email or username; the answer never tells which of the two was wrong. */
@Injectable()
export class LogIn {
  constructor(
    private readonly transactor: Transactor,
    private readonly users: UsersRepository,
    private readonly sessions: SessionsRepository,
    private readonly securityEvents: SecurityEventsRepository,
    private readonly hasher: PasswordHasher,
    private readonly tokens: SessionTokens,
    private readonly activity: RecordActivity,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(input: RpcRequest<typeof IdentityRpc.LoginRoute>, caller: CallerContext): Promise<TokenPair> {
    const user = await this.users.findByLogin(input.login);
    if (!user) {
      await this.hasher.burnTimeLikeAVerify(input.password);
      await this.securityEvents.record({ userId: null, type: 'login_failed', origin: caller, now: this.clock.now() });
      throw IdentityErrors.invalidCredentials();
    }
    if (await this.securityEvents.passwordBudgetSpent(user.id, this.clock.now())) throw IdentityErrors.tooManyPasswordAttempts(60);
    if (!(await this.hasher.verify(user.passwordHash, input.password))) {
      await this.securityEvents.record({ userId: user.id, type: 'login_failed', origin: caller, now: this.clock.now() });
      throw IdentityErrors.invalidCredentials();
    }
    if (user.blockedAt) {
      await this.securityEvents.record({ userId: user.id, type: 'login_blocked', origin: caller, now: this.clock.now() });
      throw IdentityErrors.accountBlocked();
    }
    return this.transactor.run(async () => {
      const now = this.clock.now();
      const sessionId = randomUUID();
      await this.sessions.createSession({ id: sessionId, userId: user.id, now });
      await this.securityEvents.record({ userId: user.id, type: 'login_succeeded', origin: caller, now });
      await this.activity.recordFor(user.id);
      return this.tokens.issue({ userId: user.id, sessionId, role: user.role });
    });
  }
}
