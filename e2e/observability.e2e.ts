import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '@homiwork/api-client';
import { CreateOrder, DeleteMe, GetBalance, GetErasure, ListProducts, LogIn, type GenerationRpc } from '@homiwork/contracts';
import { patternJpeg } from '@homiwork/media-fixtures';
import { createTestDatabase, createTestNamespace, eventually, type TestDatabase } from '@homiwork/testing';
import { SERVICE_MANIFEST, startSystemProcess, type SystemProcess } from '@homiwork/system-runner';
import { dashboardExpressions, dashboardVariables, PrometheusApi, ruleExpressions, withGrafanaVariables } from './support/prometheus-api.js';
import { submitCheckout } from './support/webhooks.js';

/**
 * The system as `npm start` runs it, with its Prometheus scraping every second (R9, issue
 * 12). After ordinary traffic — sign-ups, logins, an upload, a generation of each kind, a
 * chat message, a purchase, a privacy request and an account deletion — every expression
 * of every dashboard panel and every alert rule in the repository is asked of Prometheus'
 * HTTP API: each must parse, each panel's must return data (an alert's may be empty: not
 * firing). Then no label value of any series may be personal data.
 */
const ROOT = resolve(import.meta.dirname, '..');
const DASHBOARDS = join(ROOT, 'deploy/grafana/dashboards');
const RULES = join(ROOT, 'deploy/prometheus/rules');
const PASSWORD = 'a long and uncommon passphrase';
/** The client's address, sent through a trusted proxy header: it must never become a label value. */
const CLIENT_IP = '203.0.113.77';
const KINDS: readonly GenerationRpc.GenerationKind[] = ['text', 'poem', 'image', 'song', 'video'];
/** What Grafana puts for its built-in variables; windows long enough to hold the whole run. */
const GRAFANA_BUILTINS = { __rate_interval: '1m', __interval: '15s', __interval_ms: '15000', __range: '1h', __range_s: '3600', __range_ms: '3600000' };

let database: TestDatabase;
let runDir: string;
let system: SystemProcess | undefined;
let prometheus: PrometheusApi;
let fixtures: string;

interface Person {
  userId: string;
  email: string;
  username: string;
  token: string;
  api: ApiClient;
}
const people: Person[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  runDir = mkdtempSync(join(tmpdir(), 'homiwork-observability-'));
  fixtures = mkdtempSync(join(tmpdir(), 'observability-fixtures-'));
  system = await startSystemProcess(
    {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: database.url,
      EVENT_NAMESPACE: createTestNamespace(),
      EVENT_STREAM_MAX_BYTES: String(64 * 1024 * 1024),
      RUN_DIR: runDir,
      PROMETHEUS: 'on',
      PROMETHEUS_SCRAPE_INTERVAL: '1',
      TRUST_PROXY: 'loopback',
      ENERGY_SIGNUP_GRANT: '1000',
      // Polling for jobs and the erasure reads more than a person would.
      RATE_LIMIT_READ_PER_MINUTE: '100000',
    },
    { timeoutMs: 150_000 },
  );
  expect(system.prometheusUrl, 'npm start prints where its Prometheus listens').toBeDefined();
  prometheus = new PrometheusApi(system.prometheusUrl!);
  // Prometheus applies its targets a few seconds after it starts: the traffic is scraped from the first request on.
  const jobs = SERVICE_MANIFEST.length + 2;
  await eventually(async () => (await prometheus.targets()).filter((target) => target.health === 'up').length === jobs, { what: `${jobs} scrape targets up`, timeoutMs: 30_000 });
  await driveTraffic();
}, 400_000);

afterAll(async () => {
  await system?.stop();
  rmSync(runDir, { recursive: true, force: true });
  rmSync(fixtures, { recursive: true, force: true });
  await database?.drop();
});

const client = (token?: string): ApiClient => new ApiClient({ baseUrl: system!.apiUrl, headers: { 'x-forwarded-for': CLIENT_IP }, ...(token ? { accessToken: token } : {}) });

async function signUp(label: string): Promise<Person> {
  const tag = randomUUID().slice(0, 10);
  const email = `${label}.${tag}@example.com`;
  const username = `${label}_${tag}`;
  const { user } = await client().accounts.register({ email, username, password: PASSWORD, ageConfirmed: true });
  const { accessToken } = await client().accounts.login({ login: email, password: PASSWORD });
  const person = { userId: user.id, email, username, token: accessToken, api: client(accessToken) };
  people.push(person);
  // The sign-up grant arrives through UserRegistered; generating before it lands is refused.
  await eventually(async () => (await person.api.call(GetBalance)).energy === 1000, { what: 'sign-up grant', timeoutMs: 30_000 });
  return person;
}

/** Ordinary use of every service, through the public API only. */
async function driveTraffic(): Promise<void> {
  const alice = await signUp('alice');
  const bob = await signUp('bob');
  // A failed login: 4xx series and the identity service's refusal path.
  expect((await client().raw(LogIn, { body: { login: bob.email, password: 'not the password at all' } })).status).toBe(401);

  const image = await patternJpeg(fixtures, 'photo.jpg', 'a');
  const form = new FormData();
  form.append('file', new Blob([readFileSync(image)], { type: 'image/jpeg' }), 'photo.jpg');
  const upload = await fetch(`${system!.apiUrl}/v1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${alice.token}`, 'x-forwarded-for': CLIENT_IP }, body: form });
  expect(upload.status, await upload.clone().text()).toBe(201);

  const jobs = await Promise.all(KINDS.map((kind) => alice.api.generations.create({ kind, prompt: `a ${kind} about a lighthouse keeper and the first snow` })));
  for (const job of jobs) {
    let status = '';
    await eventually(async () => ['succeeded', 'failed'].includes((status = (await alice.api.generations.get(job.id)).status)), { what: `generation ${job.id}`, timeoutMs: 90_000 });
    expect(status, `generation ${job.id}`).toBe('succeeded');
  }

  const [assistant] = (await alice.api.assistants.list()).items;
  expect(assistant, 'an assistant to chat with').toBeDefined();
  await alice.api.assistants.send(assistant!.id, 'Hello, what could I cook tonight?');

  const product = (await bob.api.call(ListProducts)).items.filter((item) => item.kind === 'energy').sort((a, b) => a.amount - b.amount)[0];
  expect(product, 'an energy product').toBeDefined();
  const order = await bob.api.call(CreateOrder, { body: { productId: product!.id } });
  expect((await submitCheckout(order.checkoutUrl, 'confirm')).status).toBe(200);

  await bob.api.privacy.request({ type: 'export' });

  const { erasureId } = await alice.api.call(DeleteMe, { body: { password: PASSWORD } });
  await eventually(
    async () => {
      const answer = await client().raw(GetErasure, { params: { erasureId } });
      return answer.status === 200 && (answer.body as { status: string }).status === 'completed';
    },
    { what: `erasure ${erasureId} completed`, timeoutMs: 60_000 },
  );
  // Every target scraped twice since the last request (at 1 s intervals), so rates see it.
  const trafficEnded = Date.now();
  await eventually(async () => (await prometheus.targets()).every((target) => Date.parse(target.lastScrape) > trafficEnded + 1_500), { what: 'scrapes after the traffic', timeoutMs: 15_000 });
}

describe('npm start runs Prometheus over the whole system', () => {
  it('scrapes every service instance of the manifest, the supervisor and itself, all up', async () => {
    const targets = await prometheus.targets();
    expect(targets.map((target) => target.labels.job).sort()).toEqual([...SERVICE_MANIFEST.map((entry) => entry.name), 'prometheus', 'supervisor'].sort());
    expect(targets.filter((target) => target.health !== 'up').map((target) => `${target.labels.job}: ${target.lastError}`)).toEqual([]);
  });

  it('loads the alert rules of deploy/prometheus/rules and evaluates each without error', async () => {
    const expected = existsSync(RULES) ? ruleExpressions(RULES) : [];
    expect(expected.length, 'alert rules exist').toBeGreaterThan(0);
    await eventually(async () => (await prometheus.rules()).every((group) => group.rules.every((rule) => !rule.lastEvaluation.startsWith('0001-'))), { what: 'a first evaluation of every rule', timeoutMs: 15_000 });
    const groups = await prometheus.rules();
    expect(groups.flatMap((group) => group.rules).length).toBe(expected.length);
    expect(groups.flatMap((group) => group.rules.filter((rule) => rule.health !== 'ok').map((rule) => `${group.file}: ${rule.name}: ${rule.health} ${rule.lastError ?? ''}`))).toEqual([]);
  });
});

describe('every dashboard panel and alert rule, asked of the live Prometheus', () => {
  it('every alert rule expression parses (an empty answer is "not firing")', async () => {
    const rules = existsSync(RULES) ? ruleExpressions(RULES) : [];
    expect(rules.length, 'alert rules exist').toBeGreaterThan(0);
    const problems: string[] = [];
    for (const { where, expr } of rules) {
      const answer = await prometheus.query(expr);
      if (answer.status !== 'success') problems.push(`${where}: ${answer.error ?? 'error'}`);
    }
    expect(problems).toEqual([]);
  });

  it('every panel expression of every dashboard parses and returns data', async () => {
    const variables = new Map<string, Record<string, string[]>>();
    for (const variable of dashboardVariables(DASHBOARDS)) {
      const values = await prometheus.labelValues(variable.label, variable.metric);
      expect(values.length, `${variable.file}: $${variable.name} = label_values(${variable.metric ?? ''}, ${variable.label}) has values`).toBeGreaterThan(0);
      variables.set(variable.file, { ...variables.get(variable.file), [variable.name]: values });
    }
    const panels = dashboardExpressions(DASHBOARDS);
    expect(panels.length).toBeGreaterThan(0);
    const problems = new Map<string, string>();
    // Rates need two samples inside their window: a panel without data gets a few more scrapes.
    await eventually(
      async () => {
        problems.clear();
        for (const { file, where, expr } of panels) {
          const concrete = withGrafanaVariables(expr, variables.get(file) ?? {}, GRAFANA_BUILTINS);
          const answer = await prometheus.query(concrete);
          if (answer.status !== 'success') problems.set(where, `does not parse: ${answer.error ?? ''} — ${concrete}`);
          else if (!PrometheusApi.hasData(answer)) problems.set(where, `no data — ${concrete}`);
        }
        return problems.size === 0;
      },
      { what: 'data behind every panel', timeoutMs: 10_000 },
    ).catch(() => undefined);
    expect([...problems].map(([where, problem]) => `${where}: ${problem}`)).toEqual([]);
  });
});

describe('no label value of any series is personal data', () => {
  const EMAIL = /[^\s@"]+@[^\s@"]+\.[a-z]{2,}/i;
  const IPV4 = /(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])/;
  const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

  it('no email, username, user id, client address, nor anything shaped like an email, IPv4 address or UUID', async () => {
    expect(people.length).toBeGreaterThan(0);
    const known = people.flatMap((person) => [person.email, person.username, person.userId]).concat(CLIENT_IP);
    const names = await prometheus.labelNames();
    // The values seen are the real ones: the traffic's own labels are among them.
    expect(names).toEqual(expect.arrayContaining(['service', 'route', 'consumer']));
    const found: string[] = [];
    let values = 0;
    for (const name of names) {
      for (const value of await prometheus.labelValues(name)) {
        values++;
        const lower = value.toLowerCase();
        for (const needle of known) if (lower.includes(needle.toLowerCase())) found.push(`${name}="${value}" contains a registered user's ${needle === CLIENT_IP ? 'client address' : 'identifier'}`);
        for (const [kind, pattern] of [['email', EMAIL], ['IPv4 address', IPV4], ['UUID', UUID]] as const) if (pattern.test(value)) found.push(`${name}="${value}" looks like an ${kind}`);
      }
    }
    expect(values, 'label values read').toBeGreaterThan(100);
    expect(found).toEqual([]);
  });

  it('the check finds personal data when it is there', () => {
    expect(EMAIL.test('alice.1234@example.com')).toBe(true);
    expect(IPV4.test(CLIENT_IP)).toBe(true);
    expect(UUID.test(randomUUID())).toBe(true);
    expect(IPV4.test('v24.11.1')).toBe(false);
  });
});
