export { launchService, freePort, REPO_ROOT, type LaunchedService } from './launch.js';
export { generateDevSecrets, persistentDevSecrets, persistentNatsPasswords, type DevSecrets } from './dev-secrets.js';
export {
  natsInboxPrefix,
  natsPasswordVariable,
  natsPermissions,
  natsUserNames,
  PROVISIONING_USER,
  BACKUP_OPERATOR_USER,
  BACKUP_READER_CONSUMER,
  DEAD_LETTER_OPERATOR_USER,
  renderDevNatsServerConfig,
  renderNatsAuthorization,
  generatedHeader,
  type NatsClusterMember,
  type NatsUserPermissions,
} from './nats-permissions.js';
export { PROMETHEUS_RULE_FILES, prometheusBinary, renderPrometheusConfig, startPrometheus, type PrometheusProcess, type ScrapeTarget } from './prometheus.js';
export { natsServerBinary, startNatsServer, type NatsServerProcess } from './nats-server.js';
export { SERVICE_MANIFEST, compiledMain, downstreamServices, erasureServices, type Dependency, type ServiceManifestEntry } from './manifest.js';
export type { ServiceDescriptor } from './service-descriptor.js';
export { loadDescriptor } from './descriptors.js';
export { Supervisor, type InstancePorts, type InstanceStatus, type SupervisorOptions } from './supervisor.js';

// Transitional names for the benches until they start the system through the Supervisor.
import { generateDevSecrets } from './dev-secrets.js';
import { compiledMain, SERVICE_MANIFEST } from './manifest.js';
export const devSecrets = generateDevSecrets;
export const SERVICES = SERVICE_MANIFEST.map((entry) => ({ name: entry.name, main: compiledMain(entry), opsPort: entry.opsPort }));
export { startSystemProcess, type SystemProcess } from './system-process.js';
