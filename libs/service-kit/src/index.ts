export { ServiceKitModule } from './service-kit.module.js';
export type { ServiceKitOptions } from './service-kit.options.js';
export { ServiceRuntime, type ReadinessReport } from './service-runtime.js';
export { OnEvent, OnRpc, NATS_JETSTREAM_TRANSPORT, rpcPattern, eventPattern } from './decorators.js';
export { NatsJetStreamServer, type NatsJetStreamServerOptions } from './nats-jetstream.server.js';
export { NatsRpcClientProxy, type NatsRpcClientProxyOptions, type RpcCall } from './nats-rpc-client.proxy.js';
export { HTTP_REQUEST_TIMEOUT_MS, startService, type StartedService } from './bootstrap.js';
export { LOGGER, NATS, SERVICE_CONFIG } from './tokens.js';
export { installProcessSafetyNet, type ProcessSafetyNet, type ProcessSafetyNetOptions } from './process-safety-net.js';
export { PeriodicSweeper } from './periodic-sweeper.js';
export { registerPurgeBacklog, type BacklogCount } from './purge-backlog.js';
export { LegalHolds, LegalHoldsUnknown, type SweepCandidates } from './legal-holds.js';
export {
  EXPORT_READ_BATCH,
  ExportSliceErrors,
  readExportPage,
  TIME_ID_KEY,
  TIME_ID_KEY_SQL,
  timeIdAfter,
  type ExportFile,
  type ExportItem,
  type ExportRow,
  type ExportSection,
} from './export-slice/export-page.js';
export { fileExtension } from './export-slice/file-extension.js';
