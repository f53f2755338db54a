import { Injectable, Module, type DynamicModule, type BeforeApplicationShutdown } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { AccessTokenVerifier, openRevocationBucket, RevocationMirror } from '@homiwork/auth';
import { Clock } from '@homiwork/clock';
import type { NatsHandles } from '@homiwork/messaging';
import type { Logger } from '@homiwork/observability';
import { NATS, ServiceKitModule } from '@homiwork/service-kit';
import { ActivityReporter } from './activity/activity-reporter.js';
import { AccessTokenStrategy } from './auth/access-token.strategy.js';
import { AuthGuard } from './auth/auth.guard.js';
import { GatewayConfig } from './config.js';
import { ErrorFilter } from './errors/error.filter.js';
import { NatsKvRateLimiter } from './rate-limit/nats-kv-rate-limiter.js';
import { RateLimitGuard } from './rate-limit/rate-limit.guard.js';
import { AccountsController } from './routes/accounts.controller.js';
import { AssistantsController } from './routes/assistants.controller.js';
import { BillingController } from './routes/billing.controller.js';
import { OperatorsController } from './routes/operators.controller.js';
import { PrivacyController } from './routes/privacy.controller.js';
import { CheckoutController } from './routes/checkout.controller.js';
import { ContentsController } from './routes/contents.controller.js';
import { GenerationsController } from './routes/generations.controller.js';
import { HealthController } from './routes/health.controller.js';
import { UploadsController } from './routes/uploads.controller.js';

/** On shutdown, the hits this instance counted but has not yet added to the shared counters are added. */
@Injectable()
class RateLimiterShutdown implements BeforeApplicationShutdown {
  constructor(private readonly limiter: NatsKvRateLimiter) {}

  beforeApplicationShutdown(): Promise<void> {
    return this.limiter.close();
  }
}

@Module({})
export class GatewayModule {
  static forRoot(config: GatewayConfig, overrides: { logger?: Logger } = {}): DynamicModule {
    return {
      module: GatewayModule,
      imports: [ServiceKitModule.forRoot({ service: 'gateway', config, ...overrides })],
      controllers: [HealthController, AccountsController, UploadsController, GenerationsController, ContentsController, AssistantsController, BillingController, CheckoutController, PrivacyController, OperatorsController],
      providers: [
        { provide: GatewayConfig, useValue: config },
        ActivityReporter,
        AccessTokenStrategy,
        // Guards run in this order: who is calling, then whether they may call this often.
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: APP_FILTER, useClass: ErrorFilter },
        { provide: AccessTokenVerifier, inject: [Clock], useFactory: (clock: Clock) => AccessTokenVerifier.fromPem(config.JWT_PUBLIC_KEY, clock) },
        {
          provide: RevocationMirror,
          inject: [NATS],
          useFactory: async (nats: NatsHandles) => {
            const mirror = new RevocationMirror(await openRevocationBucket(nats.nc, config.EVENT_NAMESPACE, config.ACCESS_TOKEN_TTL_SECONDS));
            await mirror.start();
            return mirror;
          },
        },
        { provide: NatsKvRateLimiter, inject: [NATS, Clock], useFactory: (nats: NatsHandles, clock: Clock) => NatsKvRateLimiter.open(nats.nc, config.EVENT_NAMESPACE, clock) },
        RateLimiterShutdown,
      ],
    };
  }
}
