import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { ServiceKitModule } from '@homiwork/service-kit';
import { GenerationConfig } from './config.js';
import { GenerationHandlers } from './generation.handlers.js';
import { GENERATION_MIGRATIONS } from './migrations/index.js';
import { RecordsRepository } from './persistence/records.repository.js';
import { PurgeUser } from './usecases/purge-user/purge-user.usecase.js';

@Module({})
export class GenerationModule {
  static forRoot(config: GenerationConfig, overrides: { logger?: Logger } = {}): DynamicModule {
    return {
      module: GenerationModule,
      imports: [ServiceKitModule.forRoot({ service: 'generation', config, migrations: [...GENERATION_MIGRATIONS], ...overrides })],
      providers: [
        { provide: GenerationConfig, useValue: config },
        RecordsRepository,
        PurgeUser,
        GenerationHandlers,
      ],
    };
  }
}
