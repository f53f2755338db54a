import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateGeneration, DeleteMe, GetBalance, GetGeneration, type GenerationRpc } from '@homiwork/contracts';
import { erasureServices } from '@homiwork/system-runner';
import { eventually } from '@homiwork/testing';
import { answerEveryKind, makeSampleResults, startRecordingServer, type RecordingServer } from './support/contractor-server.js';
import { startTestSystem, type TestSystem } from './support/test-system.js';

/*
 * R9 traces: every service exports over OTLP/HTTP to a receiver this test runs. One
 * request must come back as one trace with spans from every service that handled it or its
 * events, correctly parented; no span may say who the user is; the contractor egress must
 * start a trace of its own and send no trace header.
 */

/** A span as OTLP/JSON carries it (ids in hex), with its process's service.name. */
interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: Array<{ key: string; value: Record<string, unknown> }>;
  events?: Array<{ name: string; attributes?: unknown[] }>;
  links?: unknown[];
  status?: { code?: number; message?: string };
}

interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  /** Every request body as received (decoded), for the personal-data search. */
  bodies: string[];
  contentTypes: Set<string>;
  stop(): Promise<void>;
}

/** The collector's OTLP/HTTP traces endpoint: decodes what the exporters send (OTLP/JSON, the http exporter's encoding). */
async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const bodies: string[] = [];
  const contentTypes = new Set<string>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      contentTypes.add(String(req.headers['content-type']));
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !String(req.headers['content-type']).startsWith('application/json')) {
        res.writeHead(415).end();
        return;
      }
      bodies.push(body);
      const request = JSON.parse(body) as {
        resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeSpans: Array<{ spans: Array<Omit<ReceivedSpan, 'service'>> }> }>;
      };
      for (const resourceSpans of request.resourceSpans) {
        const service = resourceSpans.resource.attributes.find((attribute) => attribute.key === 'service.name')?.value.stringValue ?? '?';
        for (const scope of resourceSpans.scopeSpans) for (const span of scope.spans) spans.push({ ...span, service });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    bodies,
    contentTypes,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const PASSWORD = 'a long and uncommon passphrase';
const DATA_SERVICES = erasureServices().split(',');

let receiver: OtlpReceiver;
let contractor: RecordingServer;
let system: TestSystem;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  contractor = await startRecordingServer(answerEveryKind(await makeSampleResults()));
  system = await startTestSystem({
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      // The batch processor's default is 5 s; the test waits for every span, so send soon.
      OTEL_BSP_SCHEDULE_DELAY: '200',
      ENERGY_SIGNUP_GRANT: '1000',
      CONTRACTOR_ADAPTERS: 'song=http,image=http,poem=http,text=http,video=http',
      CONTRACTOR_URL: contractor.url,
      CONTRACTOR_API_KEY: `contractor-key-${randomUUID()}`,
    },
  });
}, 120_000);
afterAll(async () => {
  await system?.stop();
  await contractor?.stop();
  await receiver?.stop();
});

/** Someone with everything that could identify them on the way in, trace headers of their own included. */
async function newPerson() {
  const tag = randomUUID().replaceAll('-', '').slice(0, 10);
  const email = `ana.lopez.${tag}@example.com`;
  const username = `ana_${tag}`;
  const address = `203.0.113.${1 + Math.floor(Math.random() * 250)}`;
  const clientTraceId = randomBytes(16).toString('hex');
  const headers = {
    'x-forwarded-for': address,
    'user-agent': `TraceProbe/3.2 (probe-${tag})`,
    traceparent: `00-${clientTraceId}-${randomBytes(8).toString('hex')}-01`,
    baggage: `probe.user=${username}`,
  };
  const { user } = await system.api({ headers }).accounts.register({ email, username, password: PASSWORD, ageConfirmed: true });
  const tokens = await system.api({ headers }).accounts.login({ login: email, password: PASSWORD });
  const api = system.api({ token: tokens.accessToken, headers });
  await eventually(async () => (await api.call(GetBalance)).energy > 0, { what: 'signup grant' });
  return { userId: user.id, email, username, address, headers, clientTraceId, tokens, api };
}

/** The one gateway span of this request (the route is asked only once in this file). */
function gatewaySpan(method: string, route: string): ReceivedSpan | undefined {
  return receiver.spans.find((span) => span.service === 'gateway' && span.name === `${method} ${route}`);
}

const inTrace = (traceId: string) => receiver.spans.filter((span) => span.traceId === traceId);
const servicesOf = (spans: ReceivedSpan[]) => new Set(spans.map((span) => span.service));
const attribute = (span: ReceivedSpan, key: string) => span.attributes?.find((candidate) => candidate.key === key)?.value;

/**
 * Each process exports on its own schedule, so a child may arrive before its parent: the
 * test waits until every parent named has arrived (a wrong parent id never does).
 */
function parentsArrived(spans: ReceivedSpan[]): boolean {
  const ids = new Set(spans.map((span) => span.spanId));
  return spans.every((span) => !span.parentSpanId || ids.has(span.parentSpanId));
}

/** One root (the gateway's request), and every other span's parent is a span of the same trace. */
function expectOneTree(spans: ReceivedSpan[], root: ReceivedSpan): void {
  expect(spans.filter((span) => !span.parentSpanId)).toEqual([root]);
  const ids = new Set(spans.map((span) => span.spanId));
  expect(ids.size).toBe(spans.length);
  for (const span of spans) if (span !== root) expect(ids.has(span.parentSpanId!), `${span.service}: ${span.name} has its parent in the trace`).toBe(true);
}

describe('a trace from the gateway through NATS to every service', () => {
  it('generation: the request, its RPCs, the job and its events are one trace; the contractor dispatch starts another and no trace header leaves', async () => {
    const person = await newPerson();
    const recordedBefore = contractor.requests.length;
    const prompt = `A poem about the lighthouse for ${person.username}, mail ${person.email}`;
    const answer = await person.api.raw(CreateGeneration, { body: { kind: 'poem', prompt } });
    expect(answer.status, JSON.stringify(answer.body)).toBe(202);
    const { id } = answer.body as { id: string };
    let job: GenerationRpc.Generation | undefined;
    await eventually(async () => ['succeeded', 'failed'].includes((job = await person.api.call(GetGeneration, { params: { id } })).status), { what: 'generation finished', timeoutMs: 60_000 });
    expect(job!.status).toBe('succeeded');

    // The request, the job run in generation, and billing's settlement of the job's end (GenerationFinished via the outbox).
    let root: ReceivedSpan | undefined;
    await eventually(
      () => {
        root = gatewaySpan('POST', '/v1/generations');
        if (!root) return false;
        const spans = inTrace(root.traceId);
        // Each process exports on its own schedule: wait for the last of them.
        return (
          spans.some((span) => span.name === 'generation job') &&
          spans.some((span) => span.service === 'billing' && span.name.startsWith('consume GenerationFinished')) &&
          spans.some((span) => span.service === 'identity') &&
          parentsArrived(spans)
        );
      },
      { what: 'the generation trace exported', timeoutMs: 20_000 },
    );
    const trace = inTrace(root!.traceId);
    expect(root!.kind).toBe(2); // SERVER
    expect(attribute(root!, 'http.response.status_code')).toEqual({ intValue: 202 });
    expect([...servicesOf(trace)]).toEqual(expect.arrayContaining(['gateway', 'generation', 'billing', 'identity']));
    expect(trace.some((span) => span.service === 'generation' && span.name.startsWith('rpc generation.'))).toBe(true);
    expectOneTree(trace, root!);
    // The edge started this trace: the client's trace id went nowhere.
    expect(receiver.spans.some((span) => span.traceId === person.clientTraceId)).toBe(false);

    // The job's run is a child within the request's trace.
    const run = trace.find((span) => span.name === 'generation job')!;
    expect(run.service).toBe('generation');

    // The contractor dispatch: its own trace, a root with no link to the user's.
    await eventually(() => receiver.spans.some((span) => span.name === 'contractor dispatch'), { what: 'the egress span exported' });
    const dispatches = receiver.spans.filter((span) => span.name === 'contractor dispatch');
    expect(dispatches).toHaveLength(1);
    const dispatch = dispatches[0]!;
    expect(dispatch.service).toBe('generation');
    expect(dispatch.traceId).not.toBe(root!.traceId);
    expect(dispatch.parentSpanId ?? '').toBe('');
    expect(dispatch.links ?? []).toEqual([]);
    expect(inTrace(dispatch.traceId)).toEqual([dispatch]);
    expect(attribute(dispatch, 'generation.adapter')).toEqual({ stringValue: 'http' });

    // What reached the contractor: no trace context, neither the user's, nor the egress's own, nor the client's.
    const recorded = contractor.requests.slice(recordedBefore);
    expect(recorded).toHaveLength(1);
    const headerNames = recorded[0]!.rawHeaders.filter((_value, index) => index % 2 === 0).map((name) => name.toLowerCase());
    expect(headerNames).toContain('authorization'); // the headers were read (so this can fail)
    for (const forbidden of ['traceparent', 'tracestate', 'baggage']) expect(headerNames).not.toContain(forbidden);
    const sent = `${recorded[0]!.rawHeaders.join('\n')}\n${recorded[0]!.body.toString('utf8')}`;
    for (const traceId of [root!.traceId, dispatch.traceId, person.clientTraceId]) expect(sent).not.toContain(traceId);

    expectNothingPersonal(person);
  }, 90_000);

  it('account deletion: the request, the erasure and every service’s purge are one trace', async () => {
    const person = await newPerson();
    const answer = await person.api.raw(DeleteMe, { body: { password: PASSWORD } });
    expect(answer.status).toBe(202);
    const { erasureId } = answer.body as { erasureId: string };
    await eventually(async () => (await system.sql('SELECT 1 FROM retention.erasure_receipts WHERE erasure_id = $1', [erasureId])).length === DATA_SERVICES.length, {
      what: 'every service purged',
      timeoutMs: 30_000,
    });

    let root: ReceivedSpan | undefined;
    const purgesRecorded = (spans: ReceivedSpan[]) => spans.filter((span) => span.service === 'retention' && span.name.startsWith('consume PurgeCompleted')).length;
    await eventually(
      () => {
        root = gatewaySpan('DELETE', '/v1/me');
        if (!root) return false;
        const spans = inTrace(root.traceId);
        return DATA_SERVICES.every((service) => servicesOf(spans).has(service)) && purgesRecorded(spans) >= DATA_SERVICES.length && parentsArrived(spans);
      },
      { what: 'the erasure trace exported', timeoutMs: 20_000 },
    );
    const trace = inTrace(root!.traceId);
    expect([...servicesOf(trace)].sort()).toEqual([...new Set(['gateway', 'identity', 'retention', ...DATA_SERVICES])].sort());
    expectOneTree(trace, root!);
    // Identity erases the account and announces UserDeleted; every other data-holding service handled it as a consumer within this trace.
    for (const service of DATA_SERVICES.filter((candidate) => candidate !== 'identity')) {
      expect(trace.some((span) => span.service === service && span.kind === 5 && span.name === 'consume UserDeleted.v1'), `${service} consumed UserDeleted`).toBe(true);
    }
    expect(trace.some((span) => span.service === 'identity' && span.name.startsWith('rpc identity.'))).toBe(true);
    expect(receiver.spans.some((span) => span.traceId === person.clientTraceId)).toBe(false);

    expectNothingPersonal(person);
  }, 90_000);
});

function expectNothingPersonal(person: Awaited<ReturnType<typeof newPerson>>): void {
  expect([...receiver.contentTypes].every((type) => type.startsWith('application/json'))).toBe(true);
  const secrets: Record<string, string> = {
    email: person.email,
    'email local part': person.email.split('@')[0]!,
    username: person.username,
    password: PASSWORD,
    'client address': person.address,
    'user agent': person.headers['user-agent'],
    'access token': person.tokens.accessToken,
    'refresh token': person.tokens.refreshToken,
    'user id': person.userId,
  };
  // Everything the exporters sent: span names, attributes, events, statuses, resources.
  const sent = receiver.bodies.join('\n').toLowerCase();
  expect(sent.length).toBeGreaterThan(0);
  const leaks = Object.entries(secrets).filter(([, value]) => sent.includes(value.toLowerCase()));
  expect(leaks.map(([name]) => name)).toEqual([]);
}
