import { Module, type DynamicModule } from '@nestjs/common';
import { dataKeysProviders } from '@homiwork/data-keys';
import type { Logger } from '@homiwork/observability';
import { ServiceKitModule } from '@homiwork/service-kit';
import { parseS3Url, type StorageConfig } from '@homiwork/storage';
import { CLOCK_PROVIDERS } from './clock/index.js';
import { RetentionConfig } from './config.js';
import { ERASURE_PROVIDERS } from './erasures/index.js';
import { EXPORT_PROVIDERS } from './exports/index.js';
import { RETENTION_MIGRATIONS } from './migrations/index.js';
import { REQUEST_PROVIDERS } from './requests/index.js';

function storageConfig(config: RetentionConfig): StorageConfig {
  return parseS3Url(config.S3_URL, config.S3_BUCKET, { accessKey: config.S3_ACCESS_KEY, secretKey: config.S3_SECRET_KEY });
}

/**
 * Retention, in four parts, each a folder: the policy clock (`clock/`), legal holds and
 * erasures with their signed receipts (`erasures/`), privacy requests (`requests/`) and
 * export archives (`exports/`).
 */
@Module({})
export class RetentionModule {
  static forRoot(config: RetentionConfig, overrides: { logger?: Logger } = {}): DynamicModule {
    return {
      module: RetentionModule,
      imports: [ServiceKitModule.forRoot({ service: 'retention', config, migrations: [...RETENTION_MIGRATIONS], storage: storageConfig(config), ...overrides })],
      providers: [
        { provide: RetentionConfig, useValue: config },
        ...dataKeysProviders(RetentionConfig),
        ...CLOCK_PROVIDERS,
        ...ERASURE_PROVIDERS,
        ...REQUEST_PROVIDERS,
        ...EXPORT_PROVIDERS,
      ],
    };
  }
}
