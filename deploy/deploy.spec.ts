/**
 * Validates the production-like deployment as files (no Docker engine is needed):
 * docker-compose.yml, the NATS and Prometheus configuration, Grafana provisioning and
 * dashboards (the images and .env.example: deploy/images.spec.ts). R9.1 (metrics, dashboards) and R9.3 (compose stack).
 *
 * The application services are those of the service manifest (SERVICE_MANIFEST): each one
 * must be a compose service running its compiled entry, whose environment (after Compose's
 * variable substitution) passes the service's own config schema, and a Prometheus target.
 * What a new service lacks in these files, the tests below name.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '@homiwork/config';
import { parseS3Url } from '@homiwork/storage';
import {
  compiledMain,
  downstreamServices,
  generatedHeader,
  loadDescriptor,
  natsPasswordVariable,
  natsPermissions,
  natsUserNames,
  PROVISIONING_USER,
  BACKUP_OPERATOR_USER,
  DEAD_LETTER_OPERATOR_USER,
  renderNatsAuthorization,
  SERVICE_MANIFEST,
  type ServiceManifestEntry,
} from '@homiwork/system-runner';
import { catalogued, queryableMetricNames, seriesNames } from '@homiwork/observability';
import { interpolate, interpolateDocument, MissingVariableError, references, strings } from './support/compose-interpolation.js';

const ROOT = resolve(import.meta.dirname, '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
// Merge keys (`<<: *anchor`) are part of the Compose format; the yaml package needs them enabled.
const loadYaml = (path: string): unknown => parse(read(path), { merge: true });

// ------------------------------------------------------------------ what the stack must hold

const INFRASTRUCTURE = ['postgres', 'nats', 'minio', 'prometheus', 'grafana', 'otel-collector'] as const;
const APP_SERVICES = SERVICE_MANIFEST.map((entry) => entry.name);
const manifestEntry = (name: string): ServiceManifestEntry => SERVICE_MANIFEST.find((entry) => entry.name === name)!;
const needing = (dependency: ServiceManifestEntry['needs'][number]): string[] =>
  SERVICE_MANIFEST.filter((entry) => entry.needs.includes(dependency)).map((entry) => entry.name);
const S3_SERVICES: readonly string[] = needing('s3');
const DATA_STORES = ['postgres', 'nats', 'minio'] as const;
/** The compose service behind each `needs` of the manifest (smtp and outside APIs are reached over the egress network). */
const NEEDED_STORE: Record<ServiceManifestEntry['needs'][number], string | undefined> = { postgres: 'postgres', nats: 'nats', s3: 'minio', smtp: undefined, 'outside-api': undefined };
const PUBLISHING = ['gateway', 'grafana'];
const OPS_PORT = '9100';
const READY_URL = `http://127.0.0.1:${OPS_PORT}/health/ready`;
const MIGRATE_COMMAND = 'dist/tools/system/src/migrate.js';
const SECRET_NAME = /PASSWORD|SECRET|KEY|SALT|TOKEN/i;
const REQUIRED_REFERENCE = /^\$\{[A-Z][A-Z0-9_]*:\?[^}]*\}$/;
/** A setting of a service behind a profile: empty unless set, so `up` does not need it (the service refuses to start without it). */
const OPTIONAL_REFERENCE = /^\$\{[A-Z][A-Z0-9_]*:-\}$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * What an operator's `.env` would hold, for Compose's substitution: a plausible value for
 * each required `${VAR:?…}` (a new one must be added here, in the form its service checks).
 * Variables with a default are left unset, so their defaults are what gets checked.
 */
const ed25519 = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const OPERATOR_ENV: Readonly<Record<string, string>> = {
  POSTGRES_PASSWORD: randomBytes(16).toString('hex'),
  MINIO_ROOT_USER: 'homiwork-minio',
  MINIO_ROOT_PASSWORD: randomBytes(16).toString('hex'),
  GRAFANA_ADMIN_PASSWORD: randomBytes(16).toString('hex'),
  JWT_PRIVATE_KEY: ed25519.privateKey,
  JWT_PUBLIC_KEY: ed25519.publicKey,
  IP_HASH_SALT: randomBytes(32).toString('hex'),
  INTERNAL_API_TOKEN: randomBytes(32).toString('hex'),
  TRUST_PROXY: '10.0.0.2',
  CORS_ORIGINS: 'https://app.example.com',
  SMTP_URL: 'smtps://relay-user:relay-password@smtp.example.com:465',
  MAIL_FROM: 'no-reply@example.com',
  PUBLIC_WEB_URL: 'https://app.example.com',
  PUBLIC_API_URL: 'https://api.example.com',
  PAYMENT_PROCESSOR_URL: 'https://payments.example.com/v1/orders',
  PAYMENT_WEBHOOK_SECRET: randomBytes(32).toString('hex'),
  DATA_KEYS_MASTER_KEYS: `1:${randomBytes(32).toString('base64')}`,
  DATA_KEYS_CURRENT_VERSION: '1',
  RECEIPT_SIGNING_KEYS: `receipts-1:${generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64')}`,
  // One NATS password per user of deploy/nats/authorization.conf (each service, migrate).
  ...Object.fromEntries(natsUserNames().map((user) => [natsPasswordVariable(user), randomBytes(24).toString('hex')])),
};

/**
 * Metric names the dashboards may use: the series of the metric catalogue
 * (libs/observability/src/metric-catalogue.ts, checked against every registration in code),
 * prom-client's defaults, the supervisor's own and `up`. A rename in code or in a dashboard
 * fails this test.
 */
const ALLOWED_METRICS = queryableMetricNames();
const catalogueSeries = (name: string): string[] => seriesNames(catalogued(name)!);

/** The metrics each dashboard must show (what the SREs were promised; docs/operations.md explains each board). */
const DASHBOARDS: Record<string, readonly string[]> = {
  'overview.json': [
    'up',
    'http_requests_total',
    'http_request_duration_seconds_bucket',
    'rpc_requests_total',
    'rpc_request_duration_seconds_bucket',
    'gateway_rate_limit_rejections_total',
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_eventloop_lag_p99_seconds',
    'process_start_time_seconds',
    'supervisor_service_restarts_total',
  ],
  'events.json': [
    'events_published_total',
    'events_consumed_total',
    'events_redelivered_total',
    'events_dead_lettered_total',
    'event_lag_seconds_bucket',
    'event_handler_duration_seconds_bucket',
    'consumer_pending_messages',
    'outbox_backlog',
    'outbox_oldest_age_seconds',
  ],
  'privacy.json': [
    'retention_erasures_open',
    'retention_privacy_requests_open',
    'retention_legal_holds_active',
    'retention_due_items_overdue',
    'retention_due_items_fired_total',
    'retention_safety_net_purges_total',
    'purge_backlog_items',
    'purges_completed_total',
  ],
  'generation-billing.json': [
    'generation_jobs_total',
    ...catalogueSeries('generation_job_seconds').filter((name) => name.endsWith('_bucket')),
    'billing_energy_total',
    'billing_orders_total',
    'media_uploads_total',
  ],
};

// ------------------------------------------------------------------ file shapes (only what is checked)

type EnvValue = string | number | boolean | null;
interface ComposeService {
  image?: string;
  profiles?: string[];
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

/**
 * Secret-looking variables whose value is not a required `${VAR:?message}` reference (or,
 * for a service behind a profile, an empty `${VAR:-}`).
 */
/**
 * An empty optional reference (`${VAR:-}`) is allowed for a service behind a profile, and
 * for a key only a feature the operator may leave off uses (CONTRACTOR_API_KEY: only kinds
 * sent to an outside contractor; the service's own config check then requires it).
 */
const OPTIONAL_FEATURE_SECRETS = new Set(['CONTRACTOR_API_KEY', 'PAYMENT_PROCESSOR_API_KEY']);
function literalSecrets(env: Record<string, string>, inProfile = false): string[] {
  return Object.entries(env)
    .filter(([name, value]) => SECRET_NAME.test(name) && !REQUIRED_REFERENCE.test(value) && !((inProfile || OPTIONAL_FEATURE_SECRETS.has(name)) && OPTIONAL_REFERENCE.test(value)))
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

/** `${NAME…}` references in the raw file whose NAME looks secret but which carry a default value or none. */
function optionalSecretReferences(text: string): string[] {
  return [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}/g)]
    .filter(([, name = '', rest = '']) => SECRET_NAME.test(name) && !rest.startsWith(':?') && rest !== ':-')
    .map(([reference]) => reference);
}

const requiredVariables = (node: unknown): Set<string> =>
  new Set(strings(node).flatMap((value) => references(value).filter((reference) => reference.required).map((reference) => reference.name)));

/**
 * Required variables (`${VAR:?…}`) that no service of the default stack uses. Compose
 * resolves the whole file before it looks at profiles, so each of these would stop
 * `docker compose up` for a service that is not even started.
 */
function requiredOutsideDefaultStack(file: ComposeFile): string[] {
  const always = Object.values(file.services).filter((svc) => (svc.profiles ?? []).length === 0);
  const needed = requiredVariables(always);
  return [...requiredVariables(file)].filter((name) => !needed.has(name)).sort();
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
/** The file as Compose runs it with OPERATOR_ENV as the operator's `.env`. */
const substituted = (): ComposeFile => interpolateDocument(compose, OPERATOR_ENV);
/** A service's environment after substitution: what its process receives. */
const runtimeEnv = (name: string): Record<string, string> => {
  const found = substituted().services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return environment(found);
};
/** Services built from the application image, other than the one-shot migration. */
const appServices = (): string[] =>
  Object.entries(services)
    .filter(([name, svc]) => name !== 'migrate' && (svc.build !== undefined || command(svc).startsWith('dist/')))
    .map(([name]) => name)
    .sort();

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

  it('substitute variables as Compose does', () => {
    const env = { SET: 'value', EMPTY: '' };
    expect(interpolate('a ${SET} $SET $$SET $${SET}', env)).toBe('a value value $SET ${SET}');
    expect(interpolate('${UNSET:-fallback} ${EMPTY:-fallback} ${EMPTY-fallback} ${SET:-fallback}', env)).toBe('fallback fallback  value');
    expect(interpolate('${SET:+alt}|${EMPTY:+alt}|${EMPTY+alt}|${UNSET+alt}|${UNSET}', env)).toBe('alt||alt||');
    expect(interpolate('${SET:?set SET (a, b)}', env)).toBe('value');
    expect(() => interpolate('x ${UNSET:?set UNSET}', env)).toThrow(MissingVariableError);
    expect(() => interpolate('${EMPTY:?set it}', env)).toThrow(MissingVariableError);
    expect(interpolate('${EMPTY?set it}', env)).toBe('');
    expect(() => interpolate('${UNTERMINATED', env)).toThrow(SyntaxError);
    expect(references('postgres://${U:-app}:${PW:?set PW}@db/$DB $${NOT}')).toEqual([
      { name: 'U', required: false },
      { name: 'PW', required: true },
      { name: 'DB', required: false },
    ]);
  });

  it('find required variables that only services behind a profile use', () => {
    const file = (extra: Record<string, string>): ComposeFile => ({
      services: {
        api: { environment: { A: '${A:?set A}', B: '${B:-}' } },
        later: { profiles: ['later'], environment: { A: '${A:?set A}', ...extra } },
      },
    });
    expect(requiredOutsideDefaultStack(file({ C: '${C:-}' }))).toEqual([]);
    expect(requiredOutsideDefaultStack(file({ C: '${C:?set C}' }))).toEqual(['C']);
    expect(literalSecrets({ LATER_SECRET: '${LATER_SECRET:-}' }, true)).toEqual([]);
    expect(literalSecrets({ LATER_SECRET: '${LATER_SECRET:-}' })).toEqual(['LATER_SECRET']);
    expect(optionalSecretReferences('a: ${LATER_SECRET:-}')).toEqual([]);
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

  it('runs exactly the services of the manifest: nothing else claims to be an application service', () => {
    expect(appServices()).toEqual([...APP_SERVICES].sort());
    for (const [name, svc] of Object.entries(services)) {
      if (!command(svc).startsWith('dist/services/')) continue;
      expect(APP_SERVICES, `${name} runs ${command(svc)}`).toContain(name);
    }
  });

  it('pins the infrastructure images', () => {
    expect(service('postgres').image).toMatch(/^postgres:17(?:[.-]|$)/);
    expect(service('nats').image).toMatch(/^nats:2\.12\.\d+/);
    expect(service('minio').image).toMatch(/^minio\/minio:RELEASE\.\d{4}-\d{2}-\d{2}T/);
    // Images built here carry the operator's IMAGE_TAG (deploy/images.spec.ts); pulled ones a fixed tag.
    for (const [name, svc] of Object.entries(substituted().services)) {
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

  it('authenticates every NATS connection: the generated users, each service and migrate with its own password only', () => {
    const nats = service('nats');
    const conf = read('deploy/nats/nats-server.conf');
    expect(conf).toMatch(/^include \.\/authorization\.conf$/m);
    expect(conf, 'no anonymous fallback user').not.toMatch(/no_auth_user/);
    const confMount = bindMounts(nats).find((m) => m.source === './deploy/nats/nats-server.conf');
    const authMount = bindMounts(nats).find((m) => m.source === './deploy/nats/authorization.conf');
    expect(authMount?.target, 'authorization.conf mounted next to nats-server.conf').toBe(confMount?.target.replace(/nats-server\.conf$/, 'authorization.conf'));
    // The checked-in file is what the generator renders from the contracts and the manifest.
    expect(read('deploy/nats/authorization.conf')).toBe(generatedHeader('hw') + renderNatsAuthorization(natsPermissions('hw')));
    const raw = (name: string): Record<string, string> => environment(service(name));
    // Each service and migrate connect as their own user; the operators' passwords (dead letters, backup) are theirs alone.
    const composeUsers = [...APP_SERVICES, PROVISIONING_USER];
    expect(natsUserNames()).toEqual([...composeUsers, DEAD_LETTER_OPERATOR_USER, BACKUP_OPERATOR_USER]);
    for (const user of natsUserNames()) {
      const variable = natsPasswordVariable(user);
      expect(raw('nats')[variable], `nats gets ${variable}`).toMatch(new RegExp(`^\\$\\{${variable}:\\?`));
      const holders = Object.keys(services).filter((name) => JSON.stringify(raw(name)).includes(`\${${variable}`));
      if (!composeUsers.includes(user)) {
        expect(holders, `who gets ${variable}`).toEqual(['nats']);
        continue;
      }
      expect(runtimeEnv(user).NATS_USER, `${user}: NATS_USER`).toBe(user);
      expect(raw(user).NATS_PASSWORD, `${user}: NATS_PASSWORD`).toMatch(new RegExp(`^\\$\\{${variable}:\\?`));
      expect(holders.sort(), `who gets ${variable}`).toEqual(['nats', user].sort());
    }
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
      expect(literalSecrets(env, (svc.profiles ?? []).length > 0), `${name}: literal secrets`).toEqual([]);
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
    expect(holders('S3_SECRET_KEY')).toEqual([...S3_SERVICES].sort());
    expect(holders('DATABASE_URL')).toEqual([...needing('postgres'), 'migrate'].sort());
    expect(holders('INTERNAL_API_TOKEN')).toEqual(['gateway', 'generation', 'media']);
    expect(holders('PAYMENT_WEBHOOK_SECRET')).toEqual(['billing']);
  });

  it('starts with only the default stack\'s variables: none required for services behind a profile', () => {
    expect(requiredOutsideDefaultStack(compose)).toEqual([]);
    // Everything the default stack requires is in the operator's .env of these tests.
    expect(() => substituted()).not.toThrow();
    expect([...requiredVariables(compose)].filter((name) => !(name in OPERATOR_ENV))).toEqual([]);
    for (const [name, svc] of Object.entries(services)) {
      if ((svc.profiles ?? []).length === 0) continue;
      expect([...requiredVariables(svc)], `${name} (profiles ${String(svc.profiles)}) requires`).toEqual([]);
    }
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

  it('migrates once, after the data stores are healthy, with the compiled migration of every manifest service', () => {
    const migrate = service('migrate');
    expect(typeof migrate.build === 'object' ? migrate.build.dockerfile : migrate.build).toBe('deploy/images/migrate.Dockerfile');
    expect(command(migrate)).toBe(MIGRATE_COMMAND);
    expect(existsSync(join(ROOT, MIGRATE_COMMAND.replace(/^dist\//, '').replace(/\.js$/, '.ts'))), 'the migration source').toBe(true);
    expect(migrate.restart).toBe('no');
    const deps = dependencies(migrate);
    // It migrates PostgreSQL schemas and provisions JetStream streams; it never touches S3.
    for (const store of ['postgres', 'nats']) expect(deps[store], `migrate waits for ${store}`).toBe('service_healthy');
    const env = runtimeEnv('migrate');
    expect(env.DATABASE_URL).toMatch(/^postgres(?:ql)?:\/\/[^@]+@postgres:5432\//);
    expect(env.NATS_URL).toBe('nats://nats:4222');
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

// ------------------------------------------------------------------ the service manifest in compose

describe.each(SERVICE_MANIFEST.map((entry) => [entry.name, entry] as const))('manifest service %s in docker-compose.yml', (name, entry) => {
  const runsIn = (): ComposeService => service(name);

  it('runs its compiled entry from the application image in the default stack, with a readiness healthcheck', () => {
    const svc = runsIn();
    expect(typeof svc.build === 'object' ? svc.build.dockerfile : svc.build).toBe(`deploy/images/${name}.Dockerfile`);
    expect(command(svc)).toBe(compiledMain(entry));
    expect(svc.profiles ?? [], 'a manifest service starts with `up`').toEqual([]);
    expect(healthcheck(svc)).toContain(READY_URL);
  });

  it('waits for the migration and for what it needs, and reaches the internet only for a relay it needs', () => {
    const svc = runsIn();
    const deps = dependencies(svc);
    expect(deps.migrate).toBe('service_completed_successfully');
    for (const need of ['postgres', 'nats', 's3'] as const) {
      const store = NEEDED_STORE[need]!;
      expect(deps[store], `${name} waits for ${store}`).toBe(entry.needs.includes(need) ? 'service_healthy' : undefined);
    }
    expect(networks(svc)).toContain('backend');
    expect(networks(svc).includes('egress'), `${name} on the egress network`).toBe(entry.needs.includes('smtp') || entry.needs.includes('outside-api'));
  });

  it('gets the settings of what it needs, and no others', () => {
    const env = runtimeEnv(name);
    expect(env.SERVICE_NAME).toBe(name);
    expect(env.NODE_ENV).toBe('production');
    expect(env.OPS_PORT).toBe(OPS_PORT);
    expect(env.NATS_URL).toBe(entry.needs.includes('nats') ? 'nats://nats:4222' : undefined);
    if (entry.needs.includes('postgres')) expect(env.DATABASE_URL).toMatch(/^postgres(?:ql)?:\/\/[^@]+@postgres:5432\//);
    else expect(env.DATABASE_URL, 'no database login for a service without one').toBeUndefined();
    if (entry.needs.includes('s3')) {
      expect(env.S3_URL).toBe('http://minio:9000');
      expect(env.S3_BUCKET).toBeTruthy();
    } else {
      expect(Object.keys(env).filter((key) => key.startsWith('S3_'))).toEqual([]);
    }
    expect('SMTP_URL' in env).toBe(entry.needs.includes('smtp'));
    expect(env.HTTP_PORT).toBe(entry.publicPort === undefined ? undefined : String(entry.publicPort));
    // The run-time settings of the manifest entry (memory settings of Node and the allocator) hold in compose too.
    for (const [key, value] of Object.entries(entry.env ?? {})) expect(env[key], key).toBe(value);
  });

  it('loads its configuration from its compose environment with its own schema, listening where others reach it', async () => {
    const { configSchema } = await loadDescriptor(entry);
    const env = runtimeEnv(name);
    const config = loadConfig(configSchema, env) as Record<string, unknown>;
    expect(config.NODE_ENV).toBe('production');
    expect(LOOPBACK.has(String(config.OPS_HOST)), `OPS_HOST=${String(config.OPS_HOST)}: Prometheus and other services must reach the ops port`).toBe(false);
    if (entry.publicPort !== undefined) expect(LOOPBACK.has(String(config.HTTP_HOST)), 'the public listener must be reachable through the published port').toBe(false);
    if (entry.needs.includes('s3')) {
      // As media.module.ts builds its store: the keys compose gives apart from S3_URL.
      expect(parseS3Url(env.S3_URL ?? '', env.S3_BUCKET ?? '', { accessKey: env.S3_ACCESS_KEY, secretKey: env.S3_SECRET_KEY })).toMatchObject({
        endPoint: 'minio',
        accessKey: OPERATOR_ENV.MINIO_ROOT_USER,
        secretKey: OPERATOR_ENV.MINIO_ROOT_PASSWORD,
      });
    }
    // The same check refuses an environment that lacks what the service needs.
    expect(() => loadConfig(configSchema, { NODE_ENV: 'production' })).toThrow(/config error/);
  });
});

describe('settings one manifest service provides to those after it', () => {
  it("hands the gateway media's internal URL as media's manifest entry provides it", () => {
    const provided = manifestEntry('media').provides?.(`http://media:${OPS_PORT}`) ?? {};
    expect(provided.MEDIA_INTERNAL_URL).toBeDefined();
    expect(runtimeEnv('gateway').MEDIA_INTERNAL_URL).toBe(provided.MEDIA_INTERNAL_URL);
  });

  it('gives every provided setting, with the compose address, to later services only', () => {
    SERVICE_MANIFEST.forEach((entry, index) => {
      const later = SERVICE_MANIFEST.slice(index + 1).map((next) => next.name);
      for (const [key, value] of Object.entries(entry.provides?.(`http://${entry.name}:${OPS_PORT}`) ?? {})) {
        const holders = APP_SERVICES.filter((name) => key in runtimeEnv(name));
        expect(holders.length, `${key} (from ${entry.name}) reaches a service`).toBeGreaterThan(0);
        for (const holder of holders) {
          expect(later, `${holder} gets ${key} but starts before ${entry.name}`).toContain(holder);
          expect(runtimeEnv(holder)[key], `${holder}: ${key}`).toBe(value);
        }
      }
    });
  });

  it("tells the public service which services its readiness includes", () => {
    for (const entry of SERVICE_MANIFEST.filter((candidate) => candidate.publicPort !== undefined)) {
      expect(runtimeEnv(entry.name).DOWNSTREAM_SERVICES, entry.name).toBe(downstreamServices());
    }
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
