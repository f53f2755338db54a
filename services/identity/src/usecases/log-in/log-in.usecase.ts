import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock } from '@homiwork/clock';
import type { CallerContext, IdentityRpc, RpcRequest } from '@homiwork/contracts';
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
    private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
    private readonly sessions: SessionsRepository,
    private readonly securityEvents: SecurityEventsRepository,
    private readonly hasher: PasswordHasher,
    private readonly tokens: SessionTokens,
    private readonly activity: RecordActivity,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(input: RpcRequest<typeof IdentityRpc.LoginRoute>, caller: CallerContext): Promise<TokenPair> {
    const user = await this.users.findByLogin(this.dataSource.manager, input.login);
    if (!user) {
      await this.hasher.burnTimeLikeAVerify(input.password);
      await this.securityEvents.record(this.dataSource.manager, { userId: null, type: 'login_failed', origin: caller, now: this.clock.now() });
      throw IdentityErrors.invalidCredentials();
    }
    if (!(await this.hasher.verify(user.password_hash, input.password))) {
      await this.securityEvents.record(this.dataSource.manager, { userId: user.id, type: 'login_failed', origin: caller, now: this.clock.now() });
      throw IdentityErrors.invalidCredentials();
    }
    if (user.blocked_at) {
      await this.securityEvents.record(this.dataSource.manager, { userId: user.id, type: 'login_blocked', origin: caller, now: this.clock.now() });
      throw IdentityErrors.accountBlocked();
    }
    return this.dataSource.transaction(async (manager) => {
      const now = this.clock.now();
      const sessionId = randomUUID();
      await this.sessions.createSession(manager, { id: sessionId, userId: user.id, now });
      await this.securityEvents.record(manager, { userId: user.id, type: 'login_succeeded', origin: caller, now });
      await this.activity.within(manager, user.id);
      return this.tokens.issue(manager, { userId: user.id, sessionId, role: user.role });
    });
  }
}
