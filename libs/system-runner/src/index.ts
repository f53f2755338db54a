export { launchService, freePort, type LaunchedService } from './launch.js';
export { devSecrets } from './dev-secrets.js';
export { SERVICES, type ServiceEntry } from './services.js';
