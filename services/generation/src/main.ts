import 'reflect-metadata';
import { loadConfigOrExit } from '@homiwork/config';
import { startService } from '@homiwork/service-kit';
import { generationConfigSchema } from './config.js';
import { GenerationModule } from './generation.module.js';

const config = loadConfigOrExit(generationConfigSchema);
await startService(GenerationModule.forRoot(config), config, { service: 'generation' });
