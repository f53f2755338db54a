/**
 * Validates the production-like deployment as files (no Docker engine is needed):
 * docker-compose.yml, deploy/Dockerfile, the NATS and Prometheus configuration, Grafana
 * provisioning and dashboards. R9.1 (metrics, dashboards) and R9.3 (compose stack).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = resolve(import.meta.dirname, '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
// Merge keys (`<<: *anchor`) are part of the Compose format; the yaml package needs them enabled.
const loadYaml = (path: string): unknown => parse(read(path), { merge: true });

// ------------------------------------------------------------------ what the stack must hold

const INFRASTRUCTURE = ['postgres', 'nats', 'minio', 'prometheus', 'grafana'] as const;
const APP_SERVICES = ['gateway', 'identity', 'media', 'generation', 'chat', 'billing', 'retention'] as const;
const S3_SERVICES: readonly string[] = ['media', 'generation', 'retention'];
const DATA_STORES = ['postgres', 'nats', 'minio'] as const;
const PUBLISHING = ['gateway', 'grafana'];
const OPS_PORT = '9100';
const READY_URL = `http://127.0.0.1:${OPS_PORT}/health/ready`;
const SECRET_NAME = /PASSWORD|SECRET|KEY|SALT|TOKEN/i;
const REQUIRED_REFERENCE = /^\$\{[A-Z][A-Z0-9_]*:\?[^}]*\}$/;

/** Metric names the dashboards may use. A rename in code or in a dashboard fails this test. */
const histogram = (name: string): string[] => [`${name}_bucket`, `${name}_sum`, `${name}_count`];
const APPLICATION_METRICS = {
  traffic: ['http_requests_total', ...histogram('http_request_duration_seconds')],
  events: [
    'events_published_total',
    'events_consumed_total',
    ...histogram('event_handler_duration_seconds'),
    ...histogram('event_lag_seconds'),
    'events_dead_lettered_total',
    'outbox_backlog',
    'consumer_pending_messages',
    'rpc_requests_total',
    ...histogram('rpc_request_duration_seconds'),
  ],
  privacy: [
    'purge_backlog',
    'purges_completed_total',
    'erasures_overdue',
    'privacy_requests_overdue',
    'legal_holds_active',
    'uploads_expired_total',
    'content_expired_total',
  ],
  business: ['generations_total', 'energy_points_total'],
} as const;
/** prom-client 15 collectDefaultMetrics(), without a prefix. */
const PROM_CLIENT_DEFAULTS = [
  'process_cpu_user_seconds_total',
  'process_cpu_system_seconds_total',
  'process_cpu_seconds_total',
  'process_start_time_seconds',
  'process_resident_memory_bytes',
  'process_virtual_memory_bytes',
  'process_heap_bytes',
  'process_open_fds',
  'process_max_fds',
  'nodejs_eventloop_lag_seconds',
  ...['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'].map((s) => `nodejs_eventloop_lag_${s}_seconds`),
  'nodejs_active_resources',
  'nodejs_active_resources_total',
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_requests',
  'nodejs_active_requests_total',
  'nodejs_heap_size_total_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes',
  ...['total', 'used', 'available'].map((s) => `nodejs_heap_space_size_${s}_bytes`),
  'nodejs_version_info',
  ...histogram('nodejs_gc_duration_seconds'),
];
const ALLOWED_METRICS = new Set<string>([...Object.values(APPLICATION_METRICS).flat(), ...PROM_CLIENT_DEFAULTS, 'up']);

/** The metrics each dashboard must show (what the SREs were promised). */
const DASHBOARDS: Record<string, readonly string[]> = {
  'traffic.json': ['http_requests_total', 'http_request_duration_seconds_bucket'],
  'events.json': [
    'events_published_total',
    'events_consumed_total',
    'event_handler_duration_seconds_bucket',
    'event_lag_seconds_bucket',
    'events_dead_lettered_total',
    'outbox_backlog',
    'consumer_pending_messages',
    'rpc_requests_total',
    'rpc_request_duration_seconds_bucket',
  ],
  'privacy.json': APPLICATION_METRICS.privacy,
  'business.json': APPLICATION_METRICS.business,
  'services.json': ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'up'],
};

// ------------------------------------------------------------------ file shapes (only what is checked)

type EnvValue = string | number | boolean | null;
interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; target?: string; args?: Record<string, string> };
  command?: string | string[];
  restart?: string;
  environment?: Record<string, EnvValue> | string[];
  ports?: (string | number | { target?: number; published?: string | number; host_ip?: string })[];
  expose?: unknown[];
  network_mode?: string;
  networks?: string[] | Record<string, unknown>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  volumes?: (string | { type?: string; source?: string; target?: string })[];
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  networks?: Record<string, { internal?: boolean } | null>;
  volumes?: Record<string, unknown>;
}
interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  static_configs?: { targets: string[]; labels?: Record<string, string> }[];
}
interface Target {
  expr?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  gridPos?: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string } | null;
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels?: Panel[];
  templating?: { list?: { name: string; type: string; datasource?: { type?: string; uid?: string }; query?: string | { query?: string } }[] };
}

// ------------------------------------------------------------------ helpers

function environment(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((line) => {
        const at = line.indexOf('=');
        return at === -1 ? [line, ''] : [line.slice(0, at), line.slice(at + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value === null ? '' : String(value)]));
}

function networks(service: ComposeService): string[] {
  if (service.network_mode) return [`mode:${service.network_mode}`];
  if (!service.networks) return ['default'];
  return Array.isArray(service.networks) ? service.networks : Object.keys(service.networks);
}

function dependencies(service: ComposeService): Record<string, string | undefined> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([name, dep]) => [name, dep.condition]));
}

function command(service: ComposeService): string {
  return Array.isArray(service.command) ? service.command.join(' ') : (service.command ?? '');
}

function healthcheck(service: ComposeService): string {
  const check = service.healthcheck;
  if (!check || check.disable) return '';
  return Array.isArray(check.test) ? check.test.join(' ') : (check.test ?? '');
}

function bindMounts(service: ComposeService): { source: string; target: string }[] {
  return (service.volumes ?? []).flatMap((volume) => {
    if (typeof volume === 'string') {
      const [source = '', target = ''] = volume.split(':');
      return source.startsWith('.') || source.startsWith('/') ? [{ source, target }] : [];
    }
    return volume.type === 'bind' && volume.source && volume.target ? [{ source: volume.source, target: volume.target }] : [];
  });
}

function namedVolumes(service: ComposeService): { source: string; target: string }[] {
  return (service.volumes ?? []).flatMap((volume) => {
    if (typeof volume === 'string') {
      const [source = '', target = ''] = volume.split(':');
      return /^[a-zA-Z0-9][\w.-]*$/.test(source) ? [{ source, target }] : [];
    }
    return volume.type === 'volume' && volume.source && volume.target ? [{ source: volume.source, target: volume.target }] : [];
  });
}

/** Secret-looking variables whose value is not a required `${VAR:?message}` reference. */
function literalSecrets(env: Record<string, string>): string[] {
  return Object.entries(env)
    .filter(([name, value]) => SECRET_NAME.test(name) && !REQUIRED_REFERENCE.test(value))
    .map(([name]) => name);
}

/** Passwords written into URLs (`scheme://user:password@host`) that are not required references. */
function literalUrlPasswords(env: Record<string, string>): string[] {
  return Object.entries(env).flatMap(([name, value]) => {
    const userinfo = /^[a-z][a-z0-9+.-]*:\/\/(.*)@[^@]*$/i.exec(value)?.[1];
    if (userinfo === undefined) return [];
    const password = /^(?:\$\{[^}]*\}|[^:]*):(.*)$/.exec(userinfo)?.[1];
    return password !== undefined && !REQUIRED_REFERENCE.test(password) ? [name] : [];
  });
}

/** `${NAME…}` references in the raw file whose NAME looks secret but which carry a default or none. */
function optionalSecretReferences(text: string): string[] {
  return [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}/g)]
    .filter(([, name = '', rest = '']) => SECRET_NAME.test(name) && !rest.startsWith(':?'))
    .map(([reference]) => reference);
}

/** key/value pairs of one `block { … }` of a NATS server configuration file. */
function natsBlock(conf: string, block: string): Record<string, string> {
  const text = conf
    .split('\n')
    .map((line) => line.replace(/(^|\s)(#|\/\/).*$/, ''))
    .join('\n');
  const body = new RegExp(`(?:^|\\n)\\s*${block}\\s*[:=]?\\s*\\{([^}]*)\\}`).exec(text)?.[1];
  if (body === undefined) return {};
  return Object.fromEntries(
    body
      .split(/[\n,;]/)
      .map((line) => /^\s*([\w-]+)\s*[:=]?\s*(.*?)\s*$/.exec(line))
      .filter((match): match is RegExpExecArray => match !== null && match[1] !== undefined)
      .map((match) => [match[1] ?? '', (match[2] ?? '').replace(/^["']|["']$/g, '')]),
  );
}

function natsTopLevel(conf: string, key: string): string | undefined {
  return new RegExp(`^\\s*${key}\\s*[:=]\\s*(\\S+)`, 'm').exec(conf)?.[1];
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);

/**
 * Metric names used by a PromQL expression: what remains once strings, label matchers,
 * grouping clauses, ranges, Grafana variables, numbers, keywords and function names are gone.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ')
    .replace(/\boffset\s+-?[0-9a-z]+/gi, ' ')
    .replace(/(^|[^\w:])\d+(?:\.\d+)?(?:e[+-]?\d+)?/gi, '$1 ');
  const names = [...stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)]
    .filter(([, name = '', call]) => call === undefined && !PROMQL_WORDS.has(name.toLowerCase()))
    .map(([, name = '']) => name);
  return [...new Set(names)];
}

/** Metric names in a Grafana Prometheus variable query (`label_values(selector, label)`, `query_result(expr)`). */
function variableMetricNames(query: string): string[] {
  const labelValues = /^\s*label_values\((.*),\s*\w+\s*\)\s*$/.exec(query);
  if (labelValues) return metricNames(labelValues[1] ?? '');
  const queryResult = /^\s*query_result\((.*)\)\s*$/.exec(query);
  if (queryResult) return metricNames(queryResult[1] ?? '');
  if (/^\s*(label_names|metrics)\(/.test(query)) return [];
  return metricNames(query);
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((panel) => [panel, ...allPanels(panel.panels ?? [])]);
}

// ------------------------------------------------------------------ loaded once

const compose = loadYaml('docker-compose.yml') as ComposeFile;
const composeText = read('docker-compose.yml');
const services = compose.services;
const service = (name: string): ComposeService => {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
};

// ------------------------------------------------------------------ the helpers can fail

describe('validation helpers', () => {
  it('find literal secrets, passwords in URLs and secrets with defaults', () => {
    expect(literalSecrets({ DB_PASSWORD: 'hunter2', API_KEY: '${API_KEY}', IP_HASH_SALT: '${IP_HASH_SALT:?set it}', NAME: 'x' })).toEqual([
      'DB_PASSWORD',
      'API_KEY',
    ]);
    expect(
      literalUrlPasswords({
        A: 'postgres://u:hunter2@db/x',
        B: 'postgres://u:${PW:?set PW}@db/x',
        C: 'nats://nats:4222',
        D: 'postgres://${DB_USER:-app}:hunter2@db/x',
        E: 'postgres://${DB_USER:-app}:${PW:-hunter2}@db/x',
        F: 'postgres://${DB_USER:-app}:${PW:?set PW}@db/${DB:-x}',
      }),
    ).toEqual(['A', 'D', 'E']);
    expect(optionalSecretReferences('a: ${SMTP_PASSWORD:-changeme}\nb: ${JWT_KEY:?set}\nc: ${LOG_LEVEL:-info}')).toEqual(['${SMTP_PASSWORD:-changeme}']);
  });

  it('extract metric names from PromQL', () => {
    expect(metricNames('sum by (service) (rate(http_requests_total{service=~"$service",status=~"5.."}[$__rate_interval]))')).toEqual(['http_requests_total']);
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(event_lag_seconds_bucket[5m]))) > 1e3')).toEqual(['event_lag_seconds_bucket']);
    expect(metricNames('(sum(a_total offset 1h) or vector(0)) / on(service) group_left(x) b_bytes')).toEqual(['a_total', 'b_bytes']);
    expect(variableMetricNames('label_values(events_consumed_total{service=~"$service"}, consumer)')).toEqual(['events_consumed_total']);
    expect(metricNames('rate(http_request_total[5m])').every((name) => ALLOWED_METRICS.has(name))).toBe(false);
  });

  it('read a NATS configuration block', () => {
    expect(natsBlock('port: 4222\njetstream {\n  store_dir: "/x" # comment\n  sync_interval: always\n}\n', 'jetstream')).toEqual({
      store_dir: '/x',
      sync_interval: 'always',
    });
  });
});

// ------------------------------------------------------------------ docker-compose.yml

describe('docker-compose.yml', () => {
  it('parses and declares the whole stack', () => {
    expect(compose).toBeTypeOf('object');
    expect(Object.keys(services).sort()).toEqual(expect.arrayContaining([...INFRASTRUCTURE, ...APP_SERVICES, 'migrate']));
  });

  it('pins the infrastructure images', () => {
    expect(service('postgres').image).toMatch(/^postgres:17(?:[.-]|$)/);
    expect(service('nats').image).toMatch(/^nats:2\.12\.\d+/);
    expect(service('minio').image).toMatch(/^minio\/minio:RELEASE\.\d{4}-\d{2}-\d{2}T/);
    for (const [name, svc] of Object.entries(services)) {
      if (svc.image === undefined) continue;
      expect(svc.image, name).toMatch(/:[\w.-]+$/);
      expect(svc.image, name).not.toMatch(/:latest$/);
    }
  });

  it('runs NATS with JetStream on file storage, fsynced on every write', () => {
    const nats = service('nats');
    const mount = bindMounts(nats).find((m) => m.source === './deploy/nats/nats-server.conf');
    expect(mount, 'nats-server.conf is mounted').toBeDefined();
    expect(command(nats)).toMatch(new RegExp(`(?:-c|--config)\\s+${mount?.target ?? '<none>'}`));

    const conf = read('deploy/nats/nats-server.conf');
    const jetstream = natsBlock(conf, 'jetstream');
    expect(jetstream.store_dir).toBe('/data');
    expect(jetstream.sync_interval).toBe('always');
    expect(natsTopLevel(conf, 'http_port')).toBe('8222');
    expect(healthcheck(nats)).toContain(':8222/');

    const data = namedVolumes(nats).find((v) => v.target === '/data');
    expect(data, 'JetStream store_dir is a named volume').toBeDefined();
  });

  it('keeps its data in named volumes', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const name of [...DATA_STORES, 'prometheus', 'grafana']) {
      const volumes = namedVolumes(service(name));
      expect(volumes.length, `${name} has a named volume`).toBeGreaterThan(0);
      for (const volume of volumes) expect(declared, `${name}: volume ${volume.source} declared`).toContain(volume.source);
    }
  });

  it('holds no literal secret: every secret-like variable is a required ${VAR:?…} reference', () => {
    for (const [name, svc] of Object.entries(services)) {
      const env = environment(svc);
      expect(literalSecrets(env), `${name}: literal secrets`).toEqual([]);
      expect(literalUrlPasswords(env), `${name}: passwords in URLs`).toEqual([]);
    }
    expect(optionalSecretReferences(composeText), 'secrets with defaults').toEqual([]);
    expect(environment(service('grafana')).GF_SECURITY_ADMIN_PASSWORD).toMatch(REQUIRED_REFERENCE);
    expect(environment(service('minio')).MINIO_ROOT_USER).toMatch(REQUIRED_REFERENCE);
  });

  it('hands each secret only to the services that need it', () => {
    const holders = (variable: string): string[] =>
      Object.entries(services)
        .filter(([, svc]) => variable in environment(svc))
        .map(([name]) => name)
        .sort();
    expect(holders('IP_HASH_SALT')).toEqual(['gateway']);
    expect(holders('JWT_PRIVATE_KEY')).toEqual(['identity']);
    expect(holders('SMTP_URL')).toEqual(['identity']);
    expect(holders('S3_SECRET_KEY')).toEqual([...S3_SERVICES, 'migrate'].sort());
  });

  it('publishes ports only for the gateway and for grafana (on loopback)', () => {
    const publishing = Object.entries(services)
      .filter(([, svc]) => (svc.ports ?? []).length > 0 || svc.network_mode === 'host')
      .map(([name]) => name)
      .sort();
    expect(publishing).toEqual([...PUBLISHING].sort());
    const portStrings = (name: string): string[] =>
      (service(name).ports ?? []).map((port) =>
        typeof port === 'object' ? `${port.host_ip ?? ''}:${String(port.published ?? '')}:${String(port.target ?? '')}` : String(port),
      );
    expect(portStrings('gateway').some((port) => port.endsWith(':8080'))).toBe(true);
    for (const port of portStrings('grafana')) expect(port).toMatch(/^127\.0\.0\.1:/);
  });

  it('keeps the data stores on internal networks only', () => {
    for (const name of DATA_STORES) {
      for (const network of networks(service(name))) {
        expect(compose.networks?.[network]?.internal, `${name} on ${network}`).toBe(true);
      }
    }
  });

  it.each(APP_SERVICES)('runs %s from deploy/Dockerfile with its configuration, healthcheck and dependencies', (name) => {
    const svc = service(name);
    const env = environment(svc);
    expect(typeof svc.build === 'object' ? svc.build.dockerfile : svc.build).toBe('deploy/Dockerfile');
    expect(command(svc)).toBe(`services/${name}/src/main.ts`);

    expect(env.SERVICE_NAME).toBe(name);
    expect(env.DATABASE_URL).toMatch(/^postgres(?:ql)?:\/\/[^@]+@postgres:5432\//);
    expect(env.NATS_URL).toBe('nats://nats:4222');
    expect(env.OPS_PORT).toBe(OPS_PORT);
    if (S3_SERVICES.includes(name)) {
      expect(env.S3_URL).toBe('http://minio:9000');
      expect(env.S3_BUCKET).toBeTruthy();
    } else {
      expect(Object.keys(env).filter((key) => key.startsWith('S3_'))).toEqual([]);
    }

    expect(healthcheck(svc)).toContain(READY_URL);

    const deps = dependencies(svc);
    expect(deps.migrate).toBe('service_completed_successfully');
    expect(deps.postgres).toBe('service_healthy');
    expect(deps.nats).toBe('service_healthy');
    if (S3_SERVICES.includes(name)) expect(deps.minio).toBe('service_healthy');
  });

  it('gives the gateway its edge configuration', () => {
    const env = environment(service('gateway'));
    expect(env.TRUST_PROXY).toMatch(REQUIRED_REFERENCE);
    expect(env.IP_HASH_SALT).toMatch(REQUIRED_REFERENCE);
  });

  it('migrates once, after the data stores are healthy', () => {
    const migrate = service('migrate');
    expect(typeof migrate.build === 'object' ? migrate.build.dockerfile : migrate.build).toBe('deploy/Dockerfile');
    expect(command(migrate)).toBe('tools/migrate.ts');
    expect(migrate.restart).toBe('no');
    const deps = dependencies(migrate);
    for (const store of DATA_STORES) expect(deps[store], `migrate waits for ${store}`).toBe('service_healthy');
  });

  it('has a healthcheck wherever something waits for service_healthy', () => {
    expect(healthcheck(service('postgres'))).toContain('pg_isready');
    expect(healthcheck(service('minio'))).not.toBe('');
    for (const [name, svc] of Object.entries(services)) {
      for (const [dep, condition] of Object.entries(dependencies(svc))) {
        expect(services[dep], `${name} depends on unknown ${dep}`).toBeDefined();
        if (condition === 'service_healthy') expect(healthcheck(service(dep)), `${dep} (needed by ${name})`).not.toBe('');
      }
    }
  });

  it('mounts only files that exist in the repository', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const mount of bindMounts(svc)) expect(existsSync(join(ROOT, mount.source)), `${name}: ${mount.source}`).toBe(true);
    }
  });
});

// ------------------------------------------------------------------ deploy/Dockerfile

describe('deploy/Dockerfile', () => {
  const dockerfile = read('deploy/Dockerfile');

  it('builds from node:24-slim with npm ci and runs TypeScript through swc-node', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-slim$/m);
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\} AS \w+$/m);
    expect((dockerfile.match(/^FROM /gm) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/\bnpm ci\b/);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["node", "--import", "@swc-node\/register\/esm-register"\]$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
  });

  it('installs ffmpeg from apt for the media service only', () => {
    expect(dockerfile).toMatch(/apt-get install -y --no-install-recommends ffmpeg/);
    const withFfmpeg = Object.entries(services)
      .filter(([, svc]) => typeof svc.build === 'object' && svc.build.args?.WITH_FFMPEG === 'true')
      .map(([name]) => name);
    expect(withFfmpeg).toEqual(['media']);
  });
});

// ------------------------------------------------------------------ Prometheus

describe('deploy/prometheus/prometheus.yml', () => {
  const scrapeConfigs = (loadYaml('deploy/prometheus/prometheus.yml') as { scrape_configs: ScrapeConfig[] }).scrape_configs;
  const targets = scrapeConfigs.flatMap((job) => (job.static_configs ?? []).flatMap((config) => config.targets.map((target) => ({ job, target }))));

  it('scrapes only compose services', () => {
    expect(targets.length).toBeGreaterThan(0);
    for (const { job, target } of targets) expect(services[target.split(':')[0] ?? ''], `${job.job_name}: ${target}`).toBeDefined();
  });

  it.each(APP_SERVICES)('scrapes %s /metrics on its ops port', (name) => {
    const found = targets.filter(({ target }) => target === `${name}:${environment(service(name)).OPS_PORT ?? ''}`);
    expect(found).toHaveLength(1);
    expect(found[0]?.job.metrics_path ?? '/metrics').toBe('/metrics');
  });
});

// ------------------------------------------------------------------ Grafana

describe('Grafana provisioning and dashboards', () => {
  const datasources = (loadYaml('deploy/grafana/provisioning/datasources/prometheus.yml') as { datasources: { uid: string; type: string; url: string }[] }).datasources;
  const providers = (loadYaml('deploy/grafana/provisioning/dashboards/dashboards.yml') as { providers: { options: { path: string } }[] }).providers;
  const DASHBOARD_DIR = 'deploy/grafana/dashboards';
  const files = readdirSync(join(ROOT, DASHBOARD_DIR)).filter((file) => file.endsWith('.json'));
  const dashboards = files.map((file) => ({ file, dashboard: JSON.parse(read(join(DASHBOARD_DIR, file))) as Dashboard }));
  const datasource = datasources[0];

  it('provisions one Prometheus datasource pointing at the compose prometheus service', () => {
    expect(datasources).toHaveLength(1);
    expect(datasource?.type).toBe('prometheus');
    expect(datasource?.uid).toBeTruthy();
    expect(datasource?.url).toBe('http://prometheus:9090');
  });

  it('loads dashboards from the directory compose mounts', () => {
    const mounts = bindMounts(service('grafana'));
    const dashboardsMount = mounts.find((mount) => mount.source === `./${DASHBOARD_DIR}`);
    expect(dashboardsMount).toBeDefined();
    expect(providers.map((provider) => provider.options.path)).toContain(dashboardsMount?.target);
    expect(mounts.find((mount) => mount.source === './deploy/grafana/provisioning')?.target).toBe('/etc/grafana/provisioning');
  });

  it('has one dashboard file per SRE concern', () => {
    expect(files.sort()).toEqual(Object.keys(DASHBOARDS).sort());
  });

  it('gives every dashboard a unique uid, a title and a current schema', () => {
    const uids = dashboards.map(({ dashboard }) => dashboard.uid);
    expect(new Set(uids).size).toBe(dashboards.length);
    for (const { file, dashboard } of dashboards) {
      expect(dashboard.uid, file).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
      expect(dashboard.title, file).toBeTruthy();
      expect(dashboard.schemaVersion, file).toBeGreaterThanOrEqual(39);
      const panels = allPanels(dashboard.panels ?? []);
      expect(panels.length, file).toBeGreaterThan(0);
      const ids = panels.map((panel) => panel.id);
      expect(new Set(ids).size, `${file}: panel ids are unique`).toBe(ids.length);
      for (const panel of panels) expect(panel.gridPos, `${file}: ${panel.title ?? ''} has a position`).toBeDefined();
    }
  });

  it('refers to the provisioned datasource from every query', () => {
    for (const { file, dashboard } of dashboards) {
      for (const panel of allPanels(dashboard.panels ?? [])) {
        const where = `${file}: ${panel.title ?? String(panel.id)}`;
        if (panel.type === 'row') continue;
        expect(panel.targets?.length, `${where} has queries`).toBeGreaterThan(0);
        expect(panel.datasource?.uid, where).toBe(datasource?.uid);
        expect(panel.datasource?.type, where).toBe('prometheus');
        for (const target of panel.targets ?? []) {
          if (target.datasource) expect(target.datasource.uid, `${where} ${target.refId ?? ''}`).toBe(datasource?.uid);
        }
      }
      for (const variable of dashboard.templating?.list ?? []) {
        if (variable.type === 'query') expect(variable.datasource?.uid, `${file}: $${variable.name}`).toBe(datasource?.uid);
      }
    }
  });

  it('queries only known metric names, and each dashboard shows what it promises', () => {
    for (const { file, dashboard } of dashboards) {
      const used = new Set<string>();
      for (const panel of allPanels(dashboard.panels ?? [])) {
        for (const target of panel.targets ?? []) {
          expect(target.expr?.trim(), `${file}: ${panel.title ?? ''} ${target.refId ?? ''}`).toBeTruthy();
          for (const name of metricNames(target.expr ?? '')) used.add(name);
        }
      }
      for (const variable of dashboard.templating?.list ?? []) {
        if (variable.type !== 'query') continue;
        const query = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
        for (const name of variableMetricNames(query)) used.add(name);
      }
      expect([...used].filter((name) => !ALLOWED_METRICS.has(name)), `${file}: unknown metrics`).toEqual([]);
      expect([...used], file).toEqual(expect.arrayContaining([...(DASHBOARDS[file] ?? ['<no expectations for this file>'])]));
    }
  });
});
