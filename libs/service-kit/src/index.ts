export { ServiceKitModule } from './service-kit.module.js';
export type { ServiceKitOptions } from './service-kit.options.js';
export { ServiceRuntime, type ReadinessReport } from './service-runtime.js';
export { OnEvent, OnRpc } from './decorators.js';
export { startService, type StartedService } from './bootstrap.js';
export { LOGGER, NATS, SERVICE_CONFIG } from './tokens.js';
