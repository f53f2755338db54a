import { Module, type DynamicModule } from '@nestjs/common';
import type { Logger } from '@homiwork/observability';
import { ServiceKitModule } from '@homiwork/service-kit';
import { ChatConfig } from './config.js';
import { ChatHandlers } from './chat.handlers.js';
import { CHAT_MIGRATIONS } from './migrations/index.js';
import { RecordsRepository } from './persistence/records.repository.js';
import { PurgeUser } from './usecases/purge-user/purge-user.usecase.js';

@Module({})
export class ChatModule {
  static forRoot(config: ChatConfig, overrides: { logger?: Logger } = {}): DynamicModule {
    return {
      module: ChatModule,
      imports: [ServiceKitModule.forRoot({ service: 'chat', config, migrations: [...CHAT_MIGRATIONS], ...overrides })],
      providers: [
        { provide: ChatConfig, useValue: config },
        RecordsRepository,
        PurgeUser,
        ChatHandlers,
      ],
    };
  }
}
