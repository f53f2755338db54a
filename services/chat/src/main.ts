import 'reflect-metadata';
import { loadConfigOrExit } from '@homiwork/config';
import { startService } from '@homiwork/service-kit';
import { chatConfigSchema } from './config.js';
import { ChatModule } from './chat.module.js';

const config = loadConfigOrExit(chatConfigSchema);
await startService(ChatModule.forRoot(config), config, { service: 'chat' });
