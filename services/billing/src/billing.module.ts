import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { ServiceKitModule } from '@homiwork/service-kit';
import { BillingConfig } from './config.js';
import { BillingHandlers } from './billing.handlers.js';
import { BILLING_MIGRATIONS } from './migrations/index.js';
import { RecordsRepository } from './persistence/records.repository.js';
import { PurgeUser } from './usecases/purge-user/purge-user.usecase.js';

@Module({})
export class BillingModule {
  static forRoot(config: BillingConfig, overrides: { logger?: Logger } = {}): DynamicModule {
    return {
      module: BillingModule,
      imports: [ServiceKitModule.forRoot({ service: 'billing', config, migrations: [...BILLING_MIGRATIONS], ...overrides })],
      providers: [
        { provide: BillingConfig, useValue: config },
        RecordsRepository,
        PurgeUser,
        BillingHandlers,
      ],
    };
  }
}
