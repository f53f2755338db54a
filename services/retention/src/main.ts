import 'reflect-metadata';
import { loadConfigOrExit } from '@homiwork/config';
import { startService } from '@homiwork/service-kit';
import { retentionConfigSchema } from './config.js';
import { RetentionModule } from './retention.module.js';

const config = loadConfigOrExit(retentionConfigSchema);
await startService(RetentionModule.forRoot(config), config, { service: 'retention' });
