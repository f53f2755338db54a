import 'reflect-metadata';
import { loadConfigOrExit } from '@homiwork/config';
import { startService } from '@homiwork/service-kit';
import { billingConfigSchema } from './config.js';
import { BillingModule } from './billing.module.js';

const config = loadConfigOrExit(billingConfigSchema);
await startService(BillingModule.forRoot(config), config, { service: 'billing' });
