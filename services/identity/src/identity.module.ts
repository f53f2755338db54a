import { Module, type DynamicModule } from '@nestjs/common';
import { AccessTokenIssuer, openRevocationBucket, RevocationWriter } from '@homiwork/auth';
import { Clock } from '@homiwork/clock';
import { MailSender, SmtpMailSender } from '@homiwork/mail';
import type { NatsHandles } from '@homiwork/messaging';
import type { Logger } from '@homiwork/observability';
import { LOGGER, NATS, ServiceKitModule } from '@homiwork/service-kit';
import { IdentityConfig } from './config.js';
import { PasswordHasher } from './crypto/password-hasher.js';
import { IdentityHandlers } from './identity.handlers.js';
import { IDENTITY_MIGRATIONS } from './migrations/index.js';
import { ResetTokensRepository } from './persistence/reset-tokens.repository.js';
import { SecurityEventsRepository } from './persistence/security-events.repository.js';
import { SessionsRepository } from './persistence/sessions.repository.js';
import { UsersRepository } from './persistence/users.repository.js';
import { BlockAccount } from './usecases/block-account/block-account.usecase.js';
import { ConfirmPasswordReset } from './usecases/confirm-password-reset/confirm-password-reset.usecase.js';
import { DeleteAccount } from './usecases/delete-account/delete-account.usecase.js';
import { EraseInactiveAccount } from './usecases/erase-inactive-account/erase-inactive-account.usecase.js';
import { ExportIdentitySlice } from './usecases/export-slice/export-slice.usecase.js';
import { GetProfile } from './usecases/get-profile/get-profile.usecase.js';
import { GetIdentifiers } from './usecases/get-identifiers/get-identifiers.usecase.js';
import { LogIn } from './usecases/log-in/log-in.usecase.js';
import { LogOut } from './usecases/log-out/log-out.usecase.js';
import { OperatorBlockUser } from './usecases/operator-block-user/operator-block-user.usecase.js';
import { OperatorEraseUser } from './usecases/operator-erase-user/operator-erase-user.usecase.js';
import { PrivacyErasure } from './usecases/privacy-erasure/privacy-erasure.usecase.js';
import { PurgeSecurityEvents } from './usecases/purge-security-events/purge-security-events.usecase.js';
import { SecurityEventSweeper } from './usecases/purge-security-events/security-event-sweeper.js';
import { RecordActivity } from './usecases/record-activity/record-activity.usecase.js';
import { RecordPrimeStatus } from './usecases/record-prime-status/record-prime-status.usecase.js';
import { RefreshSession } from './usecases/refresh-session/refresh-session.usecase.js';
import { RegisterUser } from './usecases/register-user/register-user.usecase.js';
import { RequestErasure } from './usecases/request-erasure/request-erasure.usecase.js';
import { RequestPasswordReset } from './usecases/request-password-reset/request-password-reset.usecase.js';
import { SessionTokens } from './usecases/session-tokens.js';
import { UpdateProfile } from './usecases/update-profile/update-profile.usecase.js';
import { WarnInactiveAccount } from './usecases/warn-inactive-account/warn-inactive-account.usecase.js';

export const IDENTITY_USE_CASES = [
  RegisterUser,
  LogIn,
  RefreshSession,
  LogOut,
  RequestPasswordReset,
  ConfirmPasswordReset,
  GetProfile,
  GetIdentifiers,
  UpdateProfile,
  DeleteAccount,
  RecordActivity,
  RecordPrimeStatus,
  PurgeSecurityEvents,
  BlockAccount,
  RequestErasure,
  PrivacyErasure,
  OperatorEraseUser,
  OperatorBlockUser,
  WarnInactiveAccount,
  EraseInactiveAccount,
  ExportIdentitySlice,
];

@Module({})
export class IdentityModule {
  static forRoot(config: IdentityConfig, overrides: { logger?: Logger } = {}): DynamicModule {
    return {
      module: IdentityModule,
      imports: [ServiceKitModule.forRoot({ service: 'identity', config, migrations: IDENTITY_MIGRATIONS, ...overrides })],
      providers: [
        { provide: IdentityConfig, useValue: config },
        UsersRepository,
        SessionsRepository,
        ResetTokensRepository,
        SecurityEventsRepository,
        PasswordHasher,
        SessionTokens,
        ...IDENTITY_USE_CASES,
        SecurityEventSweeper,
        IdentityHandlers,
        {
          provide: AccessTokenIssuer,
          inject: [Clock],
          useFactory: (clock: Clock) => AccessTokenIssuer.fromPem(config.JWT_PRIVATE_KEY, { keyId: config.JWT_KEY_ID, ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS, clock }),
        },
        {
          provide: RevocationWriter,
          inject: [NATS],
          useFactory: async (nats: NatsHandles) => new RevocationWriter(await openRevocationBucket(nats.nc, config.EVENT_NAMESPACE, config.ACCESS_TOKEN_TTL_SECONDS)),
        },
        { provide: MailSender, inject: [LOGGER], useFactory: (logger: Logger) => new SmtpMailSender({ url: config.SMTP_URL, from: config.MAIL_FROM, logger }) },
      ],
    };
  }
}
