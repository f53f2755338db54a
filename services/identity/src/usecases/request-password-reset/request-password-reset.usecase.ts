import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import type { CallerContext, IdentityRpc, RpcRequest } from '@homiwork/contracts';
import { MailSender } from '@homiwork/mail';
import type { Logger } from '@homiwork/observability';
import { Transactor } from '@homiwork/persistence';
import { LOGGER } from '@homiwork/service-kit';
import { IdentityConfig } from '../../config.js';
import { newOpaqueToken } from '../../crypto/opaque-token.js';
import { ResetTokensRepository } from '../../persistence/reset-tokens.repository.js';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';
import { UsersRepository } from '../../persistence/users.repository.js';

/**
 * R1.3 account recovery. The caller is answered before the email is even looked up, so
 * neither the answer nor its timing tells whether the address is registered; the lookup,
 * the one-time token and the mail happen afterwards.
 */
@Injectable()
export class RequestPasswordReset {
  constructor(
    private readonly transactor: Transactor,
    private readonly users: UsersRepository,
    private readonly resetTokens: ResetTokensRepository,
    private readonly securityEvents: SecurityEventsRepository,
    private readonly mail: MailSender,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(IdentityConfig) private readonly config: IdentityConfig,
  ) {}

  execute(input: RpcRequest<typeof IdentityRpc.PasswordResetRequestRoute>, caller: CallerContext): Promise<Record<string, never>> {
    void this.sendLinkIfRegistered(input.email, caller).catch((error: unknown) => {
      this.logger.error({ err: error, requestId: caller.requestId }, 'password reset mail failed');
    });
    return Promise.resolve({});
  }

  private async sendLinkIfRegistered(email: string, caller: CallerContext): Promise<void> {
    const user = await this.users.findByLogin(email);
    if (!user || user.blockedAt || user.erasure) return;
    const now = this.clock.now();
    const { token, hash } = newOpaqueToken();
    await this.transactor.run(async () => {
      await this.resetTokens.insert({ hash, userId: user.id, now, expiresAt: new Date(now.getTime() + this.config.PASSWORD_RESET_TTL_MINUTES * 60_000) });
      await this.securityEvents.record({ userId: user.id, type: 'password_reset_requested', origin: caller, now });
    });
    const link = new URL('/reset-password', this.config.PUBLIC_WEB_URL);
    link.searchParams.set('token', token);
    await this.mail.send({
      to: user.email,
      subject: 'Reset your homiwork password',
      text: [
        'Someone asked to reset the password of your homiwork account.',
        `To choose a new password, open this link within ${this.config.PASSWORD_RESET_TTL_MINUTES} minutes:`,
        '',
        link.toString(),
        '',
        'If it was not you, ignore this mail: your password stays as it is.',
      ].join('\n'),
    });
  }
}
