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
    // An account whose erasure was asked for is answered as an unknown one: same work (a
    // password verify), same 401, whatever the password.
    if (user.erasure) {
      await this.hasher.burnTimeLikeAVerify(input.password);
      await this.securityEvents.record({ userId: user.id, type: 'login_failed', origin: caller, now: this.clock.now() });
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
      // Checked again on the locked row: an erasure or a block committed since the read above
      // (while the password was verified) must not be followed by a fresh session.
      const current = await this.users.findById(user.id, { lock: true });
      if (!current || current.erasure) throw IdentityErrors.invalidCredentials();
      if (current.blockedAt) throw IdentityErrors.accountBlocked();
      const now = this.clock.now();
      const sessionId = randomUUID();
      await this.sessions.createSession({ id: sessionId, userId: user.id, now, userAgent: caller.userAgent });
      await this.securityEvents.record({ userId: user.id, type: 'login_succeeded', origin: caller, now });
      await this.activity.recordFor(user.id);
      return this.tokens.issue({ userId: user.id, sessionId, role: user.role });
    });
  }
}
