import 'reflect-metadata';
import { loadConfigOrExit } from '@homiwork/config';
import { startService } from '@homiwork/service-kit';
import { identityConfigSchema } from './config.js';
import { IdentityModule } from './identity.module.js';

const config = loadConfigOrExit(identityConfigSchema);
await startService(IdentityModule.forRoot(config), config, { service: 'identity' });
