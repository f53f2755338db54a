import { Module, type DynamicModule } from '@nestjs/common';
import { dataKeysProviders } from '@homiwork/data-keys';
import { Moderator, moderatorFromConfig } from '@homiwork/moderation';
import type { Logger } from '@homiwork/observability';
import { ServiceKitModule } from '@homiwork/service-kit';
import { ChatConfig } from './config.js';
import { ChatHandlers } from './chat.handlers.js';
import { CHAT_MIGRATIONS } from './migrations/index.js';
import { ConversationsRepository } from './persistence/conversations.repository.js';
import { MessagesRepository } from './persistence/messages.repository.js';
import { PrimeStatusRepository } from './persistence/prime-status.repository.js';
import { ClearMessages } from './usecases/clear-messages/clear-messages.usecase.js';
import { ExportSliceRepository } from './usecases/export-slice/export-slice.repository.js';
import { ExportSlice } from './usecases/export-slice/export-slice.usecase.js';
import { ListAssistants } from './usecases/list-assistants/list-assistants.usecase.js';
import { ListMessages } from './usecases/list-messages/list-messages.usecase.js';
import { ChatSweeper } from './usecases/purge-expired/chat-sweeper.js';
import { PurgeExpired } from './usecases/purge-expired/purge-expired.usecase.js';
import { PurgeUser } from './usecases/purge-user/purge-user.usecase.js';
import { RecordPrimeStatus } from './usecases/record-prime-status/record-prime-status.usecase.js';
import { PROCESSING_RESTRICTION_PROVIDERS } from '@homiwork/persistence';
import { SendMessage } from './usecases/send-message/send-message.usecase.js';
import { SettleStale } from './usecases/settle-stale/settle-stale.usecase.js';
import { StaleSendSweeper } from './usecases/settle-stale/stale-send-sweeper.js';

@Module({})
export class ChatModule {
  static forRoot(config: ChatConfig, overrides: { logger?: Logger } = {}): DynamicModule {
    return {
      module: ChatModule,
      imports: [ServiceKitModule.forRoot({ service: 'chat', config, migrations: [...CHAT_MIGRATIONS], ...overrides })],
      providers: [
        { provide: ChatConfig, useValue: config },
        { provide: Moderator, useValue: moderatorFromConfig(config) },
        ...dataKeysProviders(ChatConfig),
        ConversationsRepository,
        MessagesRepository,
        PrimeStatusRepository,
        ListAssistants,
        SendMessage,
        ListMessages,
        ClearMessages,
        RecordPrimeStatus,
        ...PROCESSING_RESTRICTION_PROVIDERS,
        PurgeExpired,
        ChatSweeper,
        SettleStale,
        StaleSendSweeper,
        PurgeUser,
        ExportSliceRepository,
        ExportSlice,
        ChatHandlers,
      ],
    };
  }
}
