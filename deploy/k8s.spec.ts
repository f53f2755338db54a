/**
 * The Kubernetes deployment (deploy/k8s): each overlay rendered by `kubectl kustomize` (no
 * cluster needed), every object validated against its schema — Kubernetes' own through
 * kubernetes-models, KEDA's through @kubernetes-models/keda, CloudNativePG's through the subset
 * in deploy/k8s/cnpg-schema.ts — and then what the system needs of it: every manifest service
 * run, probed, sized from its measured memory and protected by a PodDisruptionBudget; NATS as a
 * 3-node JetStream cluster with the generated per-service users; PostgreSQL as 3 instances
 * behind a pooler; every event consumer scaled on its consumers' lag; no secret in the files;
 * NATS routes that authenticate with a login from a Secret (and a config nats-server accepts);
 * ingress denied by default and opened per pod, port and caller, as the NetworkPolicy API
 * evaluates the rendered policies; the gateway believing no X-Forwarded-For.
 * Issue 12, "Clustered deployment on existing engines".
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
import type { INetworkPolicyPeer, INetworkPolicySpec } from 'kubernetes-models/networking.k8s.io/v1';
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

/**
 * A container's environment as the kubelet hands it over: envFrom ConfigMaps, then `env` in
 * order, `$(NAME)` in a value replaced by a variable defined before it (`$$` is a literal `$`),
 * a Secret's key by whatever `secretValue` gives for `<secret>/<key>`.
 */
function kubeletEnvironment(objects: K8sObject[], spec: IContainer, secretValue: (ref: string) => string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, source] of environment(objects, { ...spec, env: [] })) env[name] = source.value!;
  for (const variable of spec.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef;
    const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
    if (ref) {
      const value = secretValue(`${ref.name}/${ref.key}`);
      if (value !== undefined) env[variable.name] = value;
    } else if (fieldPath) {
      env[variable.name] = `<${fieldPath}>`;
    } else {
      env[variable.name] = (variable.value ?? '').replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name?: string) => (name === undefined ? '$' : (env[name] ?? whole)));
    }
  }
  return env;
}

// ------------------------------------------------------------------ NetworkPolicy semantics

type LabelSelector = NonNullable<INetworkPolicyPeer['podSelector']>;
/** A pod that may receive traffic: its namespace, labels and named container ports. */
interface TargetPod {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  ports: Record<string, number>;
}
/** Where a connection comes from: a pod (its namespace's labels and its own) or outside the cluster. */
type Source = { namespaceLabels: Record<string, string>; labels: Record<string, string> } | 'outside the cluster';

const matches = (selector: LabelSelector, labels: Record<string, string>): boolean =>
  Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value) &&
  (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    switch (operator) {
      case 'In':
        return key in labels && values.includes(labels[key]!);
      case 'NotIn':
        return !(key in labels) || !values.includes(labels[key]!);
      case 'Exists':
        return key in labels;
      case 'DoesNotExist':
        return !(key in labels);
      default:
        throw new Error(`unknown selector operator ${operator}`);
    }
  });

const namespaceLabels = (namespace: string): Record<string, string> => ({ 'kubernetes.io/metadata.name': namespace });
const podIn = (namespace: string, labels: Record<string, string>): Source => ({ namespaceLabels: namespaceLabels(namespace), labels });

/** Whether one `from` entry admits a source, for a policy in `namespace`. An ipBlock admits the outside only when it is 0.0.0.0/0 without exceptions. */
function peerAdmits(peer: INetworkPolicyPeer, namespace: string, source: Source): boolean {
  if (peer.ipBlock) return source === 'outside the cluster' && peer.ipBlock.cidr === '0.0.0.0/0' && !peer.ipBlock.except?.length;
  if (source === 'outside the cluster') return false;
  const namespaceMatches = peer.namespaceSelector ? matches(peer.namespaceSelector, source.namespaceLabels) : source.namespaceLabels['kubernetes.io/metadata.name'] === namespace;
  return namespaceMatches && (peer.podSelector ? matches(peer.podSelector, source.labels) : true);
}

/**
 * Whether the policies admit a TCP connection from `source` to `port` of `target`, as the
 * NetworkPolicy API defines it: a pod no ingress policy selects takes everything; a selected
 * pod takes what any rule of any policy selecting it allows (no `from`: every source; no
 * `ports`: every port; a named port resolved against the target's containers).
 */
function admits(policies: (K8sObject & { spec: INetworkPolicySpec })[], target: TargetPod, port: number, source: Source): boolean {
  const selecting = policies.filter(
    (policy) => policy.metadata.namespace === target.namespace && (policy.spec.policyTypes ?? ['Ingress']).includes('Ingress') && matches(policy.spec.podSelector ?? {}, target.labels),
  );
  if (selecting.length === 0) return true;
  return selecting.some((policy) =>
    (policy.spec.ingress ?? []).some(
      (rule) =>
        (!rule.from?.length || rule.from.some((peer) => peerAdmits(peer, policy.metadata.namespace!, source))) &&
        (!rule.ports?.length ||
          rule.ports.some((rulePort) => (rulePort.protocol ?? 'TCP') === 'TCP' && (rulePort.port === undefined || (typeof rulePort.port === 'number' ? rulePort.port : target.ports[rulePort.port]) === port))),
    ),
  );
}

/** The Prometheus that scrapes the ops ports, KEDA's operator and CloudNativePG's operator, as the policies and README name them. */
const PROMETHEUS = podIn('monitoring', { 'app.kubernetes.io/name': 'prometheus' });
const KEDA_OPERATOR = podIn('keda', { app: 'keda-operator' });
const CNPG_OPERATOR = podIn('cnpg-system', { 'app.kubernetes.io/name': 'cloudnative-pg' });
/** A pod the policies have no reason to admit: one in the namespace, one elsewhere wearing Prometheus' label. */
const STRANGER = podIn(NAMESPACE, { 'app.kubernetes.io/name': 'debug-shell' });
const PROMETHEUS_LOOKALIKE = podIn('default', { 'app.kubernetes.io/name': 'prometheus' });
/** Port numbers of the pods the CloudNativePG operator creates (its documentation): PostgreSQL, instance manager, metrics. */
const CNPG_INSTANCE_PORTS = { postgresql: 5432, status: 8000, metrics: 9187 };
const CNPG_POOLER_PORTS = { pgbouncer: 5432, metrics: 9127 };

/** Every pod the rendered objects create, directly or through an operator (CloudNativePG's instances and pooler pods). */
function podsOf(objects: K8sObject[]): TargetPod[] {
  const pods: TargetPod[] = [];
  for (const workload of [...ofKind<Workload>(objects, 'Deployment'), ...ofKind<Workload>(objects, 'StatefulSet'), ...ofKind<Workload>(objects, 'Job')]) {
    const ports = Object.fromEntries(workload.spec.template.spec.containers.flatMap((spec) => (spec.ports ?? []).filter((port) => port.name).map((port) => [port.name!, port.containerPort])));
    pods.push({ name: `${workload.kind} ${workload.metadata.name}`, namespace: workload.metadata.namespace!, labels: workload.spec.template.metadata.labels, ports });
  }
  for (const cluster of ofKind(objects, 'Cluster')) {
    pods.push({ name: `Cluster ${cluster.metadata.name}`, namespace: cluster.metadata.namespace!, labels: { 'cnpg.io/cluster': cluster.metadata.name, 'cnpg.io/podRole': 'instance' }, ports: CNPG_INSTANCE_PORTS });
  }
  for (const pooler of ofKind<K8sObject & { spec: { cluster: { name: string } } }>(objects, 'Pooler')) {
    pods.push({
      name: `Pooler ${pooler.metadata.name}`,
      namespace: pooler.metadata.namespace!,
      labels: { 'cnpg.io/cluster': pooler.spec.cluster.name, 'cnpg.io/podRole': 'pooler', 'cnpg.io/poolerName': pooler.metadata.name },
      ports: CNPG_POOLER_PORTS,
    });
  }
  return pods;
}

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
  'homiwork-nats-routes/user': 'route',
  // As the README makes it: nats-server reads $VAR as a value of its config language, so a
  // password must start with a letter (a leading digit parses as a number and the server refuses).
  'homiwork-nats-routes/password': `p${randomBytes(24).toString('hex')}`,
};
/** Kinds whose objects run pods: workloads, and CloudNativePG's Cluster and Pooler through the operator. */
const POD_BEARING_KINDS = new Set(['Deployment', 'StatefulSet', 'Job', 'Cluster', 'Pooler']);
/** The settings a service's `provides` gives its callers (e.g. MEDIA_INTERNAL_URL), by the providing service. */
const PROVIDED_SETTINGS = new Map(SERVICE_MANIFEST.filter((entry) => entry.provides).map((entry) => [entry.name, Object.keys(entry.provides!(`http://${entry.name}:${OPS_PORT}`))]));

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

  it('runs NATS as a 3-node JetStream cluster: server name per pod, storage, the generated users', () => {
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

  it('authenticates NATS routes with a login from a Secret, never a literal in a file', () => {
    const nats = named<Workload>(objects, 'StatefulSet', 'nats');
    const serviceName = (nats.spec as { serviceName?: string }).serviceName!;
    const conf = configMap(objects, 'nats-server-config')['nats.conf']!;
    const cluster = /^cluster \{([\s\S]*?)^\}/m.exec(conf)?.[1] ?? '';
    const authorization = /authorization \{([^}]*)\}/.exec(cluster)?.[1] ?? '';
    const userVariable = /^\s*user: \$(\w+)$/m.exec(authorization)?.[1];
    const passwordVariable = /^\s*password: \$(\w+)$/m.exec(authorization)?.[1];
    expect(userVariable, 'cluster { authorization { user: $VARIABLE } }').toBeDefined();
    expect(passwordVariable, 'cluster { authorization { password: $VARIABLE } }').toBeDefined();
    const secretRef = (name: string) => container(nats).env?.find((variable) => variable.name === name)?.valueFrom?.secretKeyRef;
    expect(secretRef(userVariable!), `${userVariable} from a Secret`).toBeDefined();
    expect(secretRef(passwordVariable!), `${passwordVariable} from a Secret`).toBeDefined();
    // The routes as the server sees them, each Secret value stood in for by its name: the login
    // in every URL is the Secret's (the kubelet expands $(NAME) only from variables defined before).
    const env = kubeletEnvironment(objects, container(nats), (ref) => `<secret ${ref}>`);
    const routes = [.../routes: \[([^\]]*)\]/.exec(cluster)![1]!.matchAll(/^\s*\$(\w+)\s*$/gm)].map((match) => env[match[1]!]);
    const login = `${env[userVariable!]}:${env[passwordVariable!]}`;
    expect(login).toMatch(/^<secret [^>]+>:<secret [^>]+>$/);
    expect(routes).toEqual(Array.from({ length: NATS_REPLICAS }, (_, ordinal) => `nats-route://${login}@${nats.metadata.name}-${ordinal}.${serviceName}:6222`));
    expect(conf, 'route URLs come from the environment, never written into the file').not.toMatch(/nats-route:\/\//);
  });

  it('gives nats-server a configuration it accepts (nats-server -t, with the Secrets as the README says)', () => {
    const nats = named<Workload>(objects, 'StatefulSet', 'nats');
    const files = configMap(objects, 'nats-server-config');
    // The image runs 2.12; the installed server may be older: drop only what it does not know.
    const [major, minor] = /v(\d+)\.(\d+)/.exec(execFileSync('nats-server', ['--version'], { encoding: 'utf8' }))!.slice(1).map(Number);
    const conf = major! === 2 && minor! < 10 ? files['nats.conf']!.replace(/^\s*sync_interval: .*$/m, '') : files['nats.conf']!;
    const dir = mkdtempSync(join(tmpdir(), 'k8s-nats-conf-'));
    try {
      writeFileSync(join(dir, 'nats.conf'), conf);
      writeFileSync(join(dir, 'authorization.conf'), files['authorization.conf']!);
      const env = { ...kubeletEnvironment(objects, container(nats), (ref) => PLAUSIBLE_SECRETS[ref]), POD_NAME: `${nats.metadata.name}-0` };
      const check = spawnSync('nats-server', ['-t', '-c', join(dir, 'nats.conf')], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
      expect(`${check.stdout}${check.stderr}`.trim()).toMatch(/configuration file .* is valid$/);
      expect(check.status).toBe(0);
      // Every password the README has an operator generate starts with a letter.
      expect(readFileSync(join(K8S, 'README.md'), 'utf8')).not.toMatch(/="?\$\(openssl rand/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('denies all ingress by default in the namespace of every pod-bearing object; a stranger pod reaches only the public API', () => {
    const policies = ofKind<K8sObject & { spec: INetworkPolicySpec }>(objects, 'NetworkPolicy');
    const podBearing = objects.filter((object) => POD_BEARING_KINDS.has(object.kind));
    expect(podBearing.length).toBeGreaterThan(0);
    for (const object of podBearing) {
      const defaultDeny = policies.find(
        (policy) =>
          policy.metadata.namespace === object.metadata.namespace &&
          !Object.keys(policy.spec.podSelector?.matchLabels ?? {}).length &&
          !policy.spec.podSelector?.matchExpressions?.length &&
          (policy.spec.policyTypes ?? ['Ingress']).includes('Ingress') &&
          !policy.spec.ingress?.length,
      );
      expect(defaultDeny, `${object.kind} ${object.metadata.name}: no default-deny ingress NetworkPolicy in ${object.metadata.namespace}`).toBeDefined();
    }
    const pods = podsOf(objects);
    expect(pods.map((pod) => pod.name.split(' ')[0]).filter((kind, index, all) => all.indexOf(kind) === index).sort()).toEqual([...POD_BEARING_KINDS].sort());
    const open = pods.flatMap((pod) => Object.entries(pod.ports).filter(([, port]) => admits(policies, pod, port, STRANGER)).map(([name]) => `${pod.name}:${name}`));
    expect(open).toEqual(['Deployment gateway:http']);
  });

  it("lets the public API in from anywhere and every ops port only from Prometheus, media's also from the services configured to call it", () => {
    const policies = ofKind<K8sObject & { spec: INetworkPolicySpec }>(objects, 'NetworkPolicy');
    const pods = podsOf(objects);
    const gateway = pods.find((pod) => pod.name === 'Deployment gateway')!;
    expect(admits(policies, gateway, gateway.ports.http!, 'outside the cluster')).toBe(true);
    const workloads = [...ofKind<Workload>(objects, 'Deployment'), ...ofKind<Workload>(objects, 'StatefulSet'), ...ofKind<Workload>(objects, 'Job')];
    // Who calls a service's ops listener: the workloads given a setting it provides (MEDIA_INTERNAL_URL).
    const callers = new Map(
      [...PROVIDED_SETTINGS].map(([provider, settings]) => [
        provider,
        workloads.filter((workload) => settings.some((setting) => environment(objects, container(workload)).has(setting))).map((workload) => workload.metadata.name),
      ]),
    );
    expect(callers.get('media'), 'the gateway streams uploads through media').toContain('gateway');
    for (const entry of SERVICE_MANIFEST) {
      const target = pods.find((pod) => pod.name === `Deployment ${entry.name}`)!;
      expect(target.ports.ops, entry.name).toBe(OPS_PORT);
      expect(admits(policies, target, OPS_PORT, PROMETHEUS), `Prometheus → ${entry.name}:ops`).toBe(true);
      for (const source of [STRANGER, PROMETHEUS_LOOKALIKE, KEDA_OPERATOR, 'outside the cluster'] as const) {
        expect(admits(policies, target, OPS_PORT, source), `${JSON.stringify(source)} → ${entry.name}:ops`).toBe(false);
      }
      for (const workload of workloads) {
        const allowed = callers.get(entry.name)?.includes(workload.metadata.name) ?? false;
        expect(admits(policies, target, OPS_PORT, podIn(NAMESPACE, workload.spec.template.metadata.labels)), `${workload.metadata.name} → ${entry.name}:ops`).toBe(allowed);
      }
    }
  });

  it('lets PostgreSQL be reached only by the services with a database, migrate, its own pods and the operator', () => {
    const policies = ofKind<K8sObject & { spec: INetworkPolicySpec }>(objects, 'NetworkPolicy');
    const pods = podsOf(objects);
    const instance = pods.find((pod) => pod.name.startsWith('Cluster '))!;
    const pooler = pods.find((pod) => pod.name.startsWith('Pooler '))!;
    const withDatabase = [...DATABASE_SERVICES, 'migrate'];
    for (const workload of [...ofKind<Workload>(objects, 'Deployment'), ...ofKind<Workload>(objects, 'StatefulSet'), ...ofKind<Workload>(objects, 'Job')]) {
      const source = podIn(NAMESPACE, workload.spec.template.metadata.labels);
      const name = workload.metadata.name;
      expect(admits(policies, instance, 5432, source), `${name} → PostgreSQL`).toBe(withDatabase.includes(name));
      expect(admits(policies, pooler, 5432, source), `${name} → pooler`).toBe(withDatabase.includes(name));
      expect(admits(policies, instance, CNPG_INSTANCE_PORTS.status, source), `${name} → instance manager`).toBe(false);
    }
    expect(withDatabase.every((name) => objects.some((object) => object.metadata.name === name && ['Deployment', 'Job'].includes(object.kind)))).toBe(true);
    // The operator manages the instances; they replicate from each other; the pooler forwards.
    for (const port of [5432, CNPG_INSTANCE_PORTS.status]) {
      expect(admits(policies, instance, port, CNPG_OPERATOR), `operator → instance:${port}`).toBe(true);
      expect(admits(policies, instance, port, podIn(NAMESPACE, instance.labels)), `instance → instance:${port}`).toBe(true);
    }
    expect(admits(policies, instance, 5432, podIn(NAMESPACE, pooler.labels)), 'pooler → instance').toBe(true);
    for (const source of [STRANGER, PROMETHEUS, PROMETHEUS_LOOKALIKE, KEDA_OPERATOR, 'outside the cluster'] as const) {
      expect(admits(policies, instance, 5432, source), `${JSON.stringify(source)} → PostgreSQL`).toBe(false);
      expect(admits(policies, pooler, 5432, source), `${JSON.stringify(source)} → pooler`).toBe(false);
    }
  });

  it('lets NATS clients in from the services and migrate, routes only between the servers, monitoring from Prometheus and KEDA', () => {
    const policies = ofKind<K8sObject & { spec: INetworkPolicySpec }>(objects, 'NetworkPolicy');
    const nats = podsOf(objects).find((pod) => pod.name === 'StatefulSet nats')!;
    expect(nats.ports).toMatchObject({ client: 4222, cluster: 6222, monitor: 8222 });
    for (const workload of [...ofKind<Workload>(objects, 'Deployment'), ...ofKind<Workload>(objects, 'StatefulSet'), ...ofKind<Workload>(objects, 'Job')]) {
      const source = podIn(NAMESPACE, workload.spec.template.metadata.labels);
      const name = workload.metadata.name;
      const isClient = SERVICE_MANIFEST.some((entry) => entry.name === name) || name === 'migrate';
      expect(admits(policies, nats, 4222, source), `${name} → nats:4222`).toBe(isClient);
      expect(admits(policies, nats, 6222, source), `${name} → nats:6222`).toBe(name === 'nats');
      expect(admits(policies, nats, 8222, source), `${name} → nats:8222`).toBe(false);
    }
    expect(admits(policies, nats, 8222, PROMETHEUS), 'Prometheus → nats:8222').toBe(true);
    expect(admits(policies, nats, 8222, KEDA_OPERATOR), 'KEDA → nats:8222').toBe(true);
    for (const source of [STRANGER, PROMETHEUS_LOOKALIKE, KEDA_OPERATOR, PROMETHEUS, 'outside the cluster'] as const) {
      for (const port of [4222, 6222]) expect(admits(policies, nats, port, source), `${JSON.stringify(source)} → nats:${port}`).toBe(false);
    }
    for (const source of [STRANGER, PROMETHEUS_LOOKALIKE, 'outside the cluster'] as const) expect(admits(policies, nats, 8222, source), `${JSON.stringify(source)} → nats:8222`).toBe(false);
  });

  it('believes no X-Forwarded-For at the gateway: the L4 load balancer hands over the client address itself', () => {
    const publicService = named<K8sObject & { spec: { type: string; externalTrafficPolicy?: string } }>(objects, 'Service', 'gateway-public');
    expect(publicService.spec).toMatchObject({ type: 'LoadBalancer', externalTrafficPolicy: 'Local' });
    expect(
      environment(objects, container(named<Workload>(objects, 'Deployment', 'gateway'))).get('TRUST_PROXY')?.value,
      "any pod could forge X-Forwarded-For; behind an L7 proxy an overlay sets the proxy's range (README) and this check follows",
    ).toBe('false');
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
