/**
 * The Kubernetes deployment (deploy/k8s): each overlay rendered by `kubectl kustomize` (no
 * cluster needed), every object validated against its schema — Kubernetes' own through
 * kubernetes-models, KEDA's through @kubernetes-models/keda, CloudNativePG's through the subset
 * in deploy/k8s/cnpg-schema.ts — and then what the system needs of it: every manifest service
 * run, probed, sized from its measured memory and protected by a PodDisruptionBudget; NATS as a
 * 3-node JetStream cluster with the generated per-service users; PostgreSQL as 3 instances
 * behind a pooler; every event consumer scaled on its consumers' lag; no secret in the files.
 * Issue 12, "Clustered deployment on existing engines".
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import type { IContainer, IEnvVar, IPodSpec } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '@homiwork/config';
import { EVENTS_STREAM, streamName } from '@homiwork/contracts';
import { declaredConsumers } from '@homiwork/messaging';
import { generatedHeader, loadDescriptor, natsPasswordVariable, natsPermissions, natsUserNames, renderNatsAuthorization, SERVICE_MANIFEST } from '@homiwork/system-runner';
import { CNPG_CLUSTER_SCHEMA, CNPG_POOLER_SCHEMA } from './k8s/cnpg-schema.js';

const ROOT = resolve(import.meta.dirname, '..');
const K8S = join(ROOT, 'deploy/k8s');
const OVERLAYS = ['staging', 'production'] as const;
const NAMESPACE = 'homiwork';
const EVENT_NAMESPACE = 'hw';
const OPS_PORT = 9100;
const NATS_REPLICAS = 3;
/** The NATS account of users declared in an `authorization` block (no accounts configured). */
const NATS_GLOBAL_ACCOUNT = '$G';

/**
 * Peak resident memory of each service on the benches, MiB (bench/RESULTS.md): the memory
 * request must cover it, the limit half as much again plus the pod's in-memory /tmp.
 */
const MEASURED_PEAK_MIB: Record<string, number> = {
  identity: 216, // VmHWM after Argon2id logins (issue 9 table)
  media: 260, // 4 uploads in flight (issue 7/8 table)
  generation: 172, // under jobs (issue 9)
  billing: 181, // under jobs (issue 9)
  chat: 179, // 8 conversations at the cap (issue 10)
  retention: 142, // 1,000-upload erasures (issue 11)
  gateway: 326, // under jobs (issue 9)
};
/** Connections one service instance opens: a TypeORM pool of 10 (libs/persistence), the outbox LISTEN, one spare. */
const CONNECTIONS_PER_INSTANCE = 12;
/** Settings that compose sets and the cluster may leave out (no collector runs in deploy/k8s). */
const NOT_IN_CLUSTER = new Set(['OTEL_EXPORTER_OTLP_ENDPOINT']);
/** Settings that are secrets (a login in a URL included); DATA_KEYS_CURRENT_VERSION is not. */
const SECRET_NAME = /(PASSWORD|SECRET|_KEYS?|SALT|TOKEN)$|^(DATABASE_URL|SMTP_URL)$/;
const PLACEHOLDER = /^(|CHANGE_ME|REPLACE_ME|<[^>]*>)$/;

// ------------------------------------------------------------------ rendering and validation

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

function render(overlay: string): K8sObject[] {
  let output: string;
  try {
    output = execFileSync('kubectl', ['kustomize', join(K8S, 'overlays', overlay)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    throw new Error(`kubectl kustomize failed for ${overlay} (kubectl v1.32 with kustomize v5.5 must be on PATH): ${(error as Error).message}`);
  }
  return parseAllDocuments(output).map((document) => document.toJS() as K8sObject);
}

interface Validatable {
  validate(): void;
}
const ajv = new Ajv({ allErrors: true, strict: false });
const cnpgValidator = (schema: object) => {
  const check = ajv.compile(schema);
  return (object: unknown): void => {
    if (!check(object)) throw new Error(ajv.errorsText(check.errors));
  };
};
/** apiVersion/kind → how to validate it. A kind not listed here fails: it has no schema. */
const VALIDATORS: Record<string, (object: unknown) => void> = Object.fromEntries([
  ...(
    [
      ['v1/Namespace', Namespace],
      ['v1/ConfigMap', ConfigMap],
      ['v1/Secret', Secret],
      ['v1/Service', Service],
      ['apps/v1/Deployment', Deployment],
      ['apps/v1/StatefulSet', StatefulSet],
      ['batch/v1/Job', Job],
      ['policy/v1/PodDisruptionBudget', PodDisruptionBudget],
      ['autoscaling/v2/HorizontalPodAutoscaler', HorizontalPodAutoscaler],
      ['networking.k8s.io/v1/NetworkPolicy', NetworkPolicy],
      ['keda.sh/v1alpha1/ScaledObject', ScaledObject],
    ] as [string, new (data: never) => Validatable][]
  ).map(([type, Model]) => [type, (object: unknown) => new Model(object as never).validate()] as const),
  ['postgresql.cnpg.io/v1/Cluster', cnpgValidator(CNPG_CLUSTER_SCHEMA)],
  ['postgresql.cnpg.io/v1/Pooler', cnpgValidator(CNPG_POOLER_SCHEMA)],
]);

// ------------------------------------------------------------------ reading the rendered objects

const typeOf = (object: K8sObject): string => `${object.apiVersion}/${object.kind}`;
const ofKind = <T = K8sObject>(objects: K8sObject[], kind: string): T[] => objects.filter((object) => object.kind === kind) as T[];
const named = <T = K8sObject>(objects: K8sObject[], kind: string, name: string): T => {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found as T;
};
interface Workload extends K8sObject {
  spec: { replicas?: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: IPodSpec }; volumeClaimTemplates?: { spec: { resources: { requests: { storage: string } } } }[] };
}
const container = (workload: Workload): IContainer => workload.spec.template.spec.containers[0]!;
/** A ConfigMap by the name it was generated under (kustomize appends a content hash). */
const configMap = (objects: K8sObject[], name: string): Record<string, string> => {
  const found = ofKind(objects, 'ConfigMap').find((object) => object.metadata.name.replace(/-[a-z0-9]{10}$/, '') === name);
  if (!found) throw new Error(`no ConfigMap ${name}`);
  return found.data ?? {};
};
/** What a container's environment resolves to: literal and ConfigMap values, Secret references as `secret:<name>/<key>`. */
function environment(objects: K8sObject[], spec: IContainer): Map<string, { value?: string; secret?: string }> {
  const env = new Map<string, { value?: string; secret?: string }>();
  for (const source of spec.envFrom ?? []) {
    if (!source.configMapRef) throw new Error(`${spec.name}: envFrom other than a ConfigMap`);
    const byName = ofKind(objects, 'ConfigMap').find((object) => object.metadata.name === source.configMapRef!.name);
    if (!byName) throw new Error(`${spec.name}: ConfigMap ${source.configMapRef.name} is not rendered`);
    for (const [key, value] of Object.entries(byName.data ?? {})) env.set(key, { value });
  }
  for (const variable of spec.env ?? ([] as IEnvVar[])) {
    const secretRef = variable.valueFrom?.secretKeyRef;
    env.set(variable.name, secretRef ? { secret: `${secretRef.name}/${secretRef.key}` } : { value: variable.value });
  }
  return env;
}

const MEBI: Record<string, number> = { Ki: 1 / 1024, Mi: 1, Gi: 1024, Ti: 1024 ** 2, k: 1000 / 1024 ** 2, M: 1000 ** 2 / 1024 ** 2, G: 1000 ** 3 / 1024 ** 2, '': 1 / 1024 ** 2 };
/** A memory or storage quantity in MiB. */
const mebibytes = (quantity: string | number): number => {
  const match = /^([0-9.]+)(Ki|Mi|Gi|Ti|k|M|G|)$/.exec(String(quantity));
  if (!match) throw new Error(`not a quantity: ${quantity}`);
  return Number(match[1]) * MEBI[match[2]!]!;
};
/** nats-server's sizes ("20GB" is 20 GiB there). */
const natsSizeMebibytes = (size: string): number => {
  const match = /^([0-9]+)(MB|GB|TB)$/.exec(size);
  if (!match) throw new Error(`not a NATS size: ${size}`);
  return Number(match[1]) * { MB: 1, GB: 1024, TB: 1024 ** 2 }[match[2] as 'MB' | 'GB' | 'TB'];
};

// ------------------------------------------------------------------ what the system needs

const DATABASE_SERVICES = SERVICE_MANIFEST.filter((entry) => entry.needs.includes('postgres')).map((entry) => entry.name);
/** Durable consumer names by the service that runs them (libs/contracts). */
const DURABLES_BY_SERVICE = new Map<string, string[]>();
for (const consumer of declaredConsumers().values()) {
  if (!SERVICE_MANIFEST.some((entry) => entry.name === consumer.service)) continue;
  DURABLES_BY_SERVICE.set(consumer.service, [...(DURABLES_BY_SERVICE.get(consumer.service) ?? []), consumer.durableName].sort());
}

/** Compose's environment of a service, by name (docker-compose.yml is checked against the config schemas by deploy.spec.ts). */
function composeEnvironmentNames(service: string): string[] {
  const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { environment?: Record<string, unknown> | string[] }> };
  const env = compose.services[service]?.environment ?? {};
  return Array.isArray(env) ? env.map((entry) => entry.split('=')[0]!) : Object.keys(env);
}

/** `<secret>/<key>` of the Secrets table in deploy/k8s/README.md (a row without a name continues the one above). */
const DOCUMENTED_SECRET_KEYS = (() => {
  const keys = new Set<string>();
  let secret = '';
  for (const line of readFileSync(join(K8S, 'README.md'), 'utf8').split('\n')) {
    const cells = line.trim().split('|');
    if (cells.length < 4 || !/^\s*(`homiwork-[a-z0-9-]+`)?\s*$/.test(cells[1]!)) continue;
    secret = /`([^`]+)`/.exec(cells[1]!)?.[1] ?? secret;
    for (const match of cells[2]!.matchAll(/`([^`]+)`/g)) keys.add(`${secret}/${match[1]}`);
  }
  return keys;
})();

/** What the operator puts in each Secret (README), in the form its service checks: for loading the services' config. */
const ed25519 = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const PLAUSIBLE_SECRETS: Record<string, string> = {
  'homiwork-pg-app/uri': `postgresql://homiwork:${randomBytes(16).toString('hex')}@homiwork-pg-rw.homiwork:5432/homiwork`,
  'homiwork-s3/access-key': 'homiwork-s3-user',
  'homiwork-s3/secret-key': randomBytes(16).toString('hex'),
  'homiwork-app/jwt-private-key': ed25519.privateKey,
  'homiwork-app/jwt-public-key': ed25519.publicKey,
  'homiwork-app/smtp-url': 'smtps://relay-user:relay-password@smtp.example.com:465',
  'homiwork-app/internal-api-token': randomBytes(32).toString('hex'),
  'homiwork-app/ip-hash-salt': randomBytes(32).toString('hex'),
  'homiwork-app/payment-webhook-secret': randomBytes(32).toString('hex'),
  'homiwork-app/data-keys-master-keys': `1:${randomBytes(32).toString('base64')}`,
  'homiwork-app/receipt-signing-keys': `receipts-1:${generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64')}`,
  ...Object.fromEntries(natsUserNames().map((user) => [`homiwork-nats-passwords/${user}`, `p${randomBytes(24).toString('hex')}`])),
};

describe.each(OVERLAYS)('deploy/k8s/overlays/%s', (overlay) => {
  const objects = render(overlay);

  it('renders, every object in the namespace and valid against its schema', () => {
    expect(objects.length).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const object of objects) {
      const validate = VALIDATORS[typeOf(object)];
      if (!validate) {
        problems.push(`${typeOf(object)} ${object.metadata.name}: no schema to validate it against (add its model to VALIDATORS)`);
        continue;
      }
      try {
        validate(object);
      } catch (error) {
        problems.push(`${typeOf(object)} ${object.metadata.name}: ${(error as Error).message}`);
      }
      if (object.kind !== 'Namespace' && object.metadata.namespace !== NAMESPACE) problems.push(`${object.kind} ${object.metadata.name} is not in ${NAMESPACE}`);
    }
    expect(problems.join('\n')).toBe('');
  });

  it('runs every manifest service as a Deployment probed on its ops port, with requests, limits and a PodDisruptionBudget', () => {
    const pdbs = ofKind<K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; minAvailable?: number } }>(objects, 'PodDisruptionBudget');
    for (const entry of SERVICE_MANIFEST) {
      const deployment = named<Workload>(objects, 'Deployment', entry.name);
      const spec = container(deployment);
      const opsPort = spec.ports?.find((port) => port.name === 'ops');
      expect(opsPort?.containerPort, entry.name).toBe(OPS_PORT);
      expect(environment(objects, spec).get('OPS_PORT')?.value, entry.name).toBe(String(OPS_PORT));
      expect(environment(objects, spec).get('OPS_HOST')?.value, `${entry.name}: the ops listener must answer the kubelet`).toBe('0.0.0.0');
      expect(spec.readinessProbe?.httpGet, entry.name).toMatchObject({ path: '/health/ready', port: 'ops' });
      expect(spec.livenessProbe?.httpGet, entry.name).toMatchObject({ path: '/health/live', port: 'ops' });
      for (const resource of ['cpu', 'memory']) {
        expect(spec.resources?.requests?.[resource], `${entry.name} ${resource} request`).toBeDefined();
        expect(spec.resources?.limits?.[resource], `${entry.name} ${resource} limit`).toBeDefined();
      }
      expect(spec.image, entry.name).toMatch(new RegExp(`^homiwork/${entry.name}:[\\w.-]+$`));
      if (overlay === 'production') expect(spec.image, `${entry.name}: production pins a release`).not.toMatch(/:latest$/);
      // Non-root, read-only, no privileges, as in compose.
      expect(deployment.spec.template.spec.securityContext?.runAsNonRoot, entry.name).toBe(true);
      expect(spec.securityContext, entry.name).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      const labels = deployment.spec.template.metadata.labels;
      const pdb = pdbs.find((candidate) => Object.entries(candidate.spec.selector.matchLabels).every(([key, value]) => labels[key] === value));
      expect(pdb, `${entry.name}: no PodDisruptionBudget selects its pods`).toBeDefined();
      expect(pdb!.spec.selector.matchLabels, `${entry.name}: its PDB must select only its own pods`).toEqual(deployment.spec.selector.matchLabels);
      const service = named<K8sObject & { spec: { ports: { port: number }[] } }>(objects, 'Service', entry.name);
      expect(service.spec.ports.map((port) => port.port), entry.name).toContain(OPS_PORT);
    }
    const publicService = named<K8sObject & { spec: { type: string; selector: Record<string, string> } }>(objects, 'Service', 'gateway-public');
    expect(publicService.spec.type).toBe('LoadBalancer');
    expect(publicService.spec.selector).toEqual(named<Workload>(objects, 'Deployment', 'gateway').spec.selector.matchLabels);
    expect(ofKind(objects, 'Service').filter((service) => ['LoadBalancer', 'NodePort'].includes((service.spec as { type?: string }).type ?? ''))).toHaveLength(1);
  });

  it('sizes memory from the measured peaks: request ≥ peak RSS, limit ≥ 1.5 × peak + in-memory /tmp', () => {
    for (const entry of SERVICE_MANIFEST) {
      const peak = MEASURED_PEAK_MIB[entry.name];
      expect(peak, `${entry.name}: add its measured peak RSS (bench/RESULTS.md) to MEASURED_PEAK_MIB`).toBeDefined();
      const deployment = named<Workload>(objects, 'Deployment', entry.name);
      const spec = container(deployment);
      const inMemoryTmp = (deployment.spec.template.spec.volumes ?? [])
        .filter((volume) => volume.emptyDir?.medium === 'Memory')
        .reduce((sum, volume) => sum + mebibytes(volume.emptyDir!.sizeLimit as string), 0);
      expect(mebibytes(spec.resources!.requests!.memory as string), entry.name).toBeGreaterThanOrEqual(peak!);
      expect(mebibytes(spec.resources!.limits!.memory as string), entry.name).toBeGreaterThanOrEqual(1.5 * peak! + inMemoryTmp);
    }
  });

  it("gives every service the settings its compose service has, secrets only by Secret reference", () => {
    for (const entry of SERVICE_MANIFEST) {
      const env = environment(objects, container(named<Workload>(objects, 'Deployment', entry.name)));
      const missing = composeEnvironmentNames(entry.name).filter((name) => !env.has(name) && !NOT_IN_CLUSTER.has(name));
      expect(missing, `${entry.name}: settings compose gives it`).toEqual([]);
      for (const [name, source] of env) {
        if (SECRET_NAME.test(name)) expect(source.secret, `${entry.name}: ${name} must come from a Secret`).toBeDefined();
      }
      expect(env.get('SERVICE_NAME')?.value, entry.name).toBe(entry.name);
      expect(env.get('NATS_USER')?.value, entry.name).toBe(entry.name);
      expect(env.get('NATS_PASSWORD')?.secret, `${entry.name}: only its own NATS password`).toBe(`homiwork-nats-passwords/${entry.name}`);
      expect(env.has('DATABASE_URL'), `${entry.name}: a database login only if it needs postgres`).toBe(entry.needs.includes('postgres'));
    }
  });

  it('holds no Secret with a value: they are created beside the manifests', () => {
    const literal = ofKind(objects, 'Secret').flatMap((secret) =>
      [
        ...Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString()] as const),
        ...Object.entries(secret.stringData ?? {}),
      ]
        .filter(([, value]) => !PLACEHOLDER.test(value))
        .map(([key]) => `${secret.metadata.name}/${key}`),
    );
    expect(literal).toEqual([]);
    for (const workload of [...ofKind<Workload>(objects, 'Deployment'), ...ofKind<Workload>(objects, 'StatefulSet')]) {
      for (const variable of workload.spec.template.spec.containers.flatMap((spec) => spec.env ?? [])) {
        if (SECRET_NAME.test(variable.name)) expect(variable.value, `${workload.metadata.name}: ${variable.name}`).toBeUndefined();
      }
    }
  });

  it("gives every service settings its own config schema accepts (the ConfigMaps' values, the Secrets as the README says)", async () => {
    for (const entry of SERVICE_MANIFEST) {
      const env = Object.fromEntries(
        [...environment(objects, container(named<Workload>(objects, 'Deployment', entry.name)))].flatMap(([name, source]) => {
          if (source.value !== undefined) return [[name, source.value]];
          const secret = PLAUSIBLE_SECRETS[source.secret!];
          return secret === undefined ? [] : [[name, secret]]; // an optional key the operator left out
        }),
      );
      const { configSchema } = await loadDescriptor(entry);
      expect(() => loadConfig(configSchema, env), entry.name).not.toThrow();
    }
  });

  it('references exactly the Secrets and keys deploy/k8s/README.md tells the operator to create', () => {
    const referenced = new Set<string>();
    for (const workload of [...ofKind<Workload>(objects, 'Deployment'), ...ofKind<Workload>(objects, 'StatefulSet'), ...ofKind<Workload>(objects, 'Job')]) {
      for (const variable of workload.spec.template.spec.containers.flatMap((spec) => spec.env ?? [])) {
        const ref = variable.valueFrom?.secretKeyRef;
        if (ref) referenced.add(`${ref.name}/${ref.key}`);
      }
    }
    expect([...referenced].sort()).toEqual([...DOCUMENTED_SECRET_KEYS].sort());
  });

  it('runs NATS as a 3-node JetStream cluster: server name per pod, routes to all three, storage, the generated users', () => {
    const nats = named<Workload>(objects, 'StatefulSet', 'nats');
    expect(nats.spec.replicas).toBe(NATS_REPLICAS);
    const serviceName = (nats.spec as { serviceName?: string }).serviceName!;
    const headless = named<K8sObject & { spec: { clusterIP?: string; publishNotReadyAddresses?: boolean } }>(objects, 'Service', serviceName);
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    const files = configMap(objects, 'nats-server-config');
    const conf = files['nats.conf']!;
    expect(conf).toMatch(/^server_name: \$POD_NAME$/m);
    expect(container(nats).env?.find((variable) => variable.name === 'POD_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    const routes = [...conf.matchAll(/nats-route:\/\/([^\s:]+):6222/g)].map((match) => match[1]);
    expect(routes).toEqual(Array.from({ length: NATS_REPLICAS }, (_, ordinal) => `${nats.metadata.name}-${ordinal}.${serviceName}`));
    expect(conf).toMatch(/jetstream \{[^}]*store_dir: \/data/);
    expect(conf).toMatch(/sync_interval: always/);
    // The servers' users are the generated ones, and each password is in the server's environment.
    expect(files['authorization.conf'], 'copy deploy/nats/authorization.conf to deploy/k8s/base/nats/ after regenerating it').toBe(
      generatedHeader(EVENT_NAMESPACE) + renderNatsAuthorization(natsPermissions(EVENT_NAMESPACE)),
    );
    const serverEnv = new Set((container(nats).env ?? []).map((variable) => variable.name));
    expect(natsUserNames().filter((user) => !serverEnv.has(natsPasswordVariable(user)))).toEqual([]);
    // Storage: the volume holds max_file_store, which holds what the streams reserve (events + 1/8 dead letters).
    const maxFileStore = natsSizeMebibytes(configMap(objects, 'nats-config').JETSTREAM_MAX_FILE_STORE!);
    expect(conf).toMatch(/max_file_store: \$JETSTREAM_MAX_FILE_STORE/);
    const volume = mebibytes(nats.spec.volumeClaimTemplates![0]!.spec.resources.requests.storage);
    const streamBytes = Number(configMap(objects, 'homiwork-common').EVENT_STREAM_MAX_BYTES) / 1024 ** 2;
    expect(volume).toBeGreaterThan(maxFileStore);
    expect(maxFileStore).toBeGreaterThan(streamBytes * (9 / 8));
    // Clients know all three servers; a quorum survives one voluntary disruption.
    const natsUrl = configMap(objects, 'homiwork-common').NATS_URL!.split(',');
    expect(natsUrl).toEqual(Array.from({ length: NATS_REPLICAS }, (_, ordinal) => `nats://${nats.metadata.name}-${ordinal}.${serviceName}:4222`));
    const pdb = named<K8sObject & { spec: { maxUnavailable?: number } }>(objects, 'PodDisruptionBudget', 'nats');
    expect(pdb.spec.maxUnavailable).toBe(1);
  });

  it('runs the migrate Job as the provisioning user with streams at 3 replicas', () => {
    const job = named<Workload>(objects, 'Job', 'migrate');
    const env = environment(objects, container(job));
    expect(env.get('NATS_STREAM_REPLICAS')?.value).toBe(String(NATS_REPLICAS));
    expect(env.get('NATS_USER')?.value).toBe('migrate');
    expect(env.get('NATS_PASSWORD')?.secret).toBe('homiwork-nats-passwords/migrate');
    expect(env.get('DATABASE_URL')?.secret).toBeDefined();
    expect(container(job).image).toMatch(/^homiwork\/migrate:[\w.-]+$/);
  });

  it('runs PostgreSQL as a CloudNativePG cluster of 3 with a pooler, with connections for every instance the autoscalers allow', () => {
    const [cluster, ...others] = ofKind<K8sObject & { spec: { instances: number; postgresql: { parameters: Record<string, string> }; bootstrap: { initdb: { database: string; owner: string } } } }>(objects, 'Cluster');
    expect(others).toHaveLength(0);
    expect(cluster!.spec.instances).toBe(3);
    const poolers = ofKind<K8sObject & { spec: { cluster: { name: string }; type?: string } }>(objects, 'Pooler');
    expect(poolers.some((pooler) => pooler.spec.cluster.name === cluster!.metadata.name && (pooler.spec.type ?? 'rw') === 'rw')).toBe(true);
    expect(poolers.map((pooler) => pooler.metadata.name)).not.toContain(cluster!.metadata.name);
    // Every service's login is the one the operator generates for the database owner.
    for (const name of DATABASE_SERVICES) {
      const env = environment(objects, container(named<Workload>(objects, 'Deployment', name)));
      expect(env.get('DATABASE_URL')?.secret, name).toBe(`${cluster!.metadata.name}-app/uri`);
    }
    const maxReplicas = (name: string): number =>
      ofKind<K8sObject & { spec: { scaleTargetRef: { name: string }; maxReplicaCount: number } }>(objects, 'ScaledObject').find((scaled) => scaled.spec.scaleTargetRef.name === name)?.spec.maxReplicaCount ?? 1;
    const needed = DATABASE_SERVICES.reduce((sum, name) => sum + maxReplicas(name) * CONNECTIONS_PER_INSTANCE, 0) + CONNECTIONS_PER_INSTANCE /* migrate */ + 10; /* the operator's */
    expect(Number(cluster!.spec.postgresql.parameters.max_connections)).toBeGreaterThanOrEqual(needed);
  });

  it('scales every consumer-running service on the lag of each of its durable consumers, never below 2', () => {
    const scaled = ofKind<K8sObject & { spec: { scaleTargetRef: { name: string; kind?: string }; minReplicaCount: number; maxReplicaCount: number; triggers: { type: string; metadata: Record<string, string> }[] } }>(objects, 'ScaledObject');
    expect([...DURABLES_BY_SERVICE.keys()].sort()).toEqual(scaled.map((object) => object.spec.scaleTargetRef.name).sort());
    const headless = (named<Workload>(objects, 'StatefulSet', 'nats').spec as { serviceName?: string }).serviceName;
    for (const object of scaled) {
      const target = object.spec.scaleTargetRef.name;
      named(objects, 'Deployment', target);
      expect(object.spec.scaleTargetRef.kind ?? 'Deployment').toBe('Deployment');
      expect(object.spec.minReplicaCount, target).toBeGreaterThanOrEqual(2);
      expect(object.spec.maxReplicaCount, target).toBeGreaterThanOrEqual(object.spec.minReplicaCount);
      expect(named<Workload>(objects, 'Deployment', target).spec.replicas, `${target}: KEDA owns its replica count`).toBeUndefined();
      expect(object.spec.triggers.map((trigger) => trigger.metadata.consumer).sort(), target).toEqual(DURABLES_BY_SERVICE.get(target));
      for (const trigger of object.spec.triggers) {
        expect(trigger.type).toBe('nats-jetstream');
        expect(trigger.metadata).toMatchObject({
          // KEDA reaches a clustered consumer's leader as <server_name>.<this host>: the headless Service.
          natsServerMonitoringEndpoint: `${headless}.${NAMESPACE}.svc.cluster.local:8222`,
          account: NATS_GLOBAL_ACCOUNT,
          stream: streamName(EVENT_NAMESPACE, EVENTS_STREAM),
        });
        expect(Number(trigger.metadata.lagThreshold)).toBeGreaterThan(0);
      }
    }
    // The gateway consumes no events; it scales on CPU, also from 2.
    const hpa = named<K8sObject & { spec: { scaleTargetRef: { name: string }; minReplicas: number } }>(objects, 'HorizontalPodAutoscaler', 'gateway');
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(DURABLES_BY_SERVICE.has('gateway')).toBe(false);
  });
});

describe('deploy/k8s overlays differ where they must', () => {
  it('production has more room to scale and larger volumes than staging', () => {
    const [staging, production] = OVERLAYS.map(render);
    const maxOf = (objects: K8sObject[]) => Math.max(...ofKind<K8sObject & { spec: { maxReplicaCount: number } }>(objects, 'ScaledObject').map((object) => object.spec.maxReplicaCount));
    const natsVolume = (objects: K8sObject[]) => mebibytes(named<Workload>(objects, 'StatefulSet', 'nats').spec.volumeClaimTemplates![0]!.spec.resources.requests.storage);
    const pgVolume = (objects: K8sObject[]) => mebibytes((named(objects, 'Cluster', 'homiwork-pg').spec as { storage: { size: string } }).storage.size);
    expect(maxOf(production!)).toBeGreaterThan(maxOf(staging!));
    expect(natsVolume(production!)).toBeGreaterThan(natsVolume(staging!));
    expect(pgVolume(production!)).toBeGreaterThan(pgVolume(staging!));
  });
});
