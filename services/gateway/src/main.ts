import 'reflect-metadata';
import { loadConfigOrExit } from '@homiwork/config';
import { gatewayConfigSchema } from './config.js';
import { startGateway } from './start-gateway.js';

await startGateway(loadConfigOrExit(gatewayConfigSchema));
