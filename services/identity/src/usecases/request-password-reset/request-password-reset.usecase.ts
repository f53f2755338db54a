import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Clock } from '@homiwork/clock';
import type { CallerContext, IdentityRpc, RpcRequest } from '@homiwork/contracts';
import { MailSender } from '@homiwork/mail';
import type { Logger } from '@homiwork/observability';
import { LOGGER, SERVICE_CONFIG, type ServiceKitOptions } from '@homiwork/service-kit';
import type { IdentityConfig } from '../../config.js';
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
  private readonly config: IdentityConfig;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly users: UsersRepository,
    private readonly resetTokens: ResetTokensRepository,
    private readonly securityEvents: SecurityEventsRepository,
    private readonly mail: MailSender,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) options: ServiceKitOptions,
  ) {
    this.config = options.config as IdentityConfig;
  }

  execute(input: RpcRequest<typeof IdentityRpc.PasswordResetRequestRoute>, caller: CallerContext): Promise<Record<string, never>> {
    const work = this.sendLinkIfRegistered(input.email, caller).catch((error: unknown) => {
      this.logger.error({ err: error, requestId: caller.requestId }, 'password reset mail failed');
    });
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    return Promise.resolve({});
  }

  /** For tests and shutdown: wait until the mails already asked for are handed to SMTP. */
  async settled(): Promise<void> {
    await Promise.all(this.inFlight);
  }

  private async sendLinkIfRegistered(email: string, caller: CallerContext): Promise<void> {
    const user = await this.users.findByLogin(this.dataSource.manager, email);
    if (!user || user.blocked_at) return;
    const now = this.clock.now();
    const { token, hash } = newOpaqueToken();
    await this.dataSource.transaction(async (manager) => {
      await this.resetTokens.insert(manager, { hash, userId: user.id, now, expiresAt: new Date(now.getTime() + this.config.PASSWORD_RESET_TTL_MINUTES * 60_000) });
      await this.securityEvents.record(manager, { userId: user.id, type: 'password_reset_requested', origin: caller, now });
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
