import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as contracts from '@homiwork/contracts';
import { DEAD_LETTER_STREAM, deadLetterSubject, eventSubject, EVENTS_STREAM, rpcSubject, streamName, systemReadyRoute, type ConsumerContract, type RpcRoute } from '@homiwork/contracts';
import { EVENT_TYPE_HEADER } from '@homiwork/messaging';
import { eventually, TEST_NATS_URL } from '@homiwork/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { startTestSystem, type TestSystem } from './support/test-system.js';

/**
 * Defect 5: one malformed NATS header crashed a service. Here every RPC route of every
 * running service (every route contract `@homiwork/contracts` exports, and each service's
 * `system.ready`) gets every kind of malformed request over raw NATS — bytes on the socket,
 * so headers and bodies can be broken in ways a well-behaved client refuses to send — and
 * must answer each with a 400 that echoes nothing; every consumed event subject gets
 * malformed events, which must be dead-lettered while the consumer goes on. Afterwards
 * every service is still the same process, with no restart, and ready.
 */

const MARKER = `zq${randomUUID().replaceAll('-', '')}`;
const enc = (text: string) => Buffer.from(text, 'utf8');
const CRLF = '\r\n';

/** A NATS header block from raw lines (`NATS/1.0` status line first). */
function headerBlock(lines: Array<string | Buffer>, status = 'NATS/1.0'): Buffer {
  return Buffer.concat([enc(status + CRLF), ...lines.flatMap((line) => [typeof line === 'string' ? enc(line) : line, enc(CRLF)]), enc(CRLF)]);
}

const goodCaller = () => `Hw-Caller: ${JSON.stringify({ requestId: `malformed-${randomUUID().slice(0, 8)}` })}`;

interface RequestVariant {
  name: string;
  headers: Buffer | undefined;
  body: Buffer;
  code: string;
}

const REQUEST_VARIANTS: RequestVariant[] = [
  { name: 'caller header that is not JSON (the reported crash)', headers: headerBlock(['Hw-Caller: {']), body: enc('{}'), code: 'invalid_caller_context' },
  { name: 'no headers at all', headers: undefined, body: enc('{}'), code: 'invalid_caller_context' },
  { name: 'caller header of the wrong shape', headers: headerBlock([`Hw-Caller: ["${MARKER}"]`]), body: enc('{}'), code: 'invalid_caller_context' },
  { name: 'caller header with a field it may not carry', headers: headerBlock([`Hw-Caller: {"requestId":"r","email":"${MARKER}@example.com"}`]), body: enc('{}'), code: 'invalid_caller_context' },
  { name: 'oversized caller header', headers: headerBlock([`Hw-Caller: {"requestId":"${MARKER}${'r'.repeat(8_000)}"}`]), body: enc('{}'), code: 'invalid_caller_context' },
  { name: 'caller header that is not UTF-8', headers: headerBlock([Buffer.concat([enc('Hw-Caller: {"requestId":"'), Buffer.from([0xff, 0xfe, 0xc3]), enc('"}')])]), body: enc('{}'), code: 'invalid_caller_context' },
  { name: 'header block without a caller line (no colon)', headers: headerBlock([`Hw-Caller ${MARKER}`]), body: enc('{}'), code: 'invalid_caller_context' },
  { name: 'header block with an error status line', headers: headerBlock([`Hw-Caller: {`], 'NATS/1.0 503'), body: enc('{}'), code: 'invalid_caller_context' },
  { name: 'body that is not JSON', headers: headerBlock([goodCaller()]), body: enc(`{"${MARKER}":`), code: 'invalid_json' },
  { name: 'empty body', headers: headerBlock([goodCaller()]), body: Buffer.alloc(0), code: 'invalid_json' },
  { name: 'body that is not UTF-8', headers: headerBlock([goodCaller()]), body: Buffer.concat([enc('{"x":"'), Buffer.from([0xff, 0xfe]), enc('"}')]), code: 'invalid_encoding' },
  { name: 'body of the wrong schema', headers: headerBlock([goodCaller()]), body: enc(`["${MARKER}"]`), code: 'validation_failed' },
  { name: 'body with an unknown field named like personal data', headers: headerBlock([goodCaller()]), body: enc(`{"${MARKER}@example.com":1}`), code: 'validation_failed' },
];

/** Just enough of the NATS client protocol to put arbitrary bytes on the wire and read the replies. */
class RawNats {
  private buffer = Buffer.alloc(0);
  private readonly waiting = new Map<string, (payload: Buffer, headers: Buffer | undefined) => void>();
  private readonly inbox = `_RAW.${randomUUID().replaceAll('-', '')}`;
  private sequence = 0;
  /** Protocol errors the server sent (none expected). */
  readonly errors: string[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
  }

  static async connect(url: string): Promise<RawNats> {
    const { hostname, port } = new URL(url);
    const socket = tcpConnect(Number(port || 4222), hostname);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const raw = new RawNats(socket);
    socket.write(`CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"protocol":1,"name":"raw-malformed"}${CRLF}SUB ${raw.inbox}.* 1${CRLF}PING${CRLF}`);
    return raw;
  }

  /** Sends bytes as a request; resolves with the reply's payload, or undefined after the timeout. */
  request(subject: string, headers: Buffer | undefined, body: Buffer, timeoutMs = 3_000): Promise<{ payload: Buffer; headers: Buffer | undefined } | undefined> {
    const reply = `${this.inbox}.${++this.sequence}`;
    const answered = new Promise<{ payload: Buffer; headers: Buffer | undefined } | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(reply);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(reply, (payload, replyHeaders) => {
        clearTimeout(timer);
        resolve({ payload, headers: replyHeaders });
      });
    });
    this.publish(subject, headers, body, reply);
    return answered;
  }

  publish(subject: string, headers: Buffer | undefined, body: Buffer, reply?: string): void {
    const replyPart = reply ? ` ${reply}` : '';
    if (headers) this.socket.write(Buffer.concat([enc(`HPUB ${subject}${replyPart} ${headers.length} ${headers.length + body.length}${CRLF}`), headers, body, enc(CRLF)]));
    else this.socket.write(Buffer.concat([enc(`PUB ${subject}${replyPart} ${body.length}${CRLF}`), body, enc(CRLF)]));
  }

  close(): void {
    this.socket.destroy();
  }

  private parse(): void {
    for (;;) {
      const end = this.buffer.indexOf(CRLF);
      if (end < 0) return;
      const line = this.buffer.subarray(0, end).toString('latin1');
      const [op, ...args] = line.split(' ');
      if (op === 'MSG' || op === 'HMSG') {
        const withHeaders = op === 'HMSG';
        const total = Number(args[args.length - 1]);
        const headerBytes = withHeaders ? Number(args[args.length - 2]) : 0;
        if (this.buffer.length < end + 2 + total + 2) return;
        const frame = this.buffer.subarray(end + 2, end + 2 + total);
        this.buffer = this.buffer.subarray(end + 2 + total + 2);
        this.waiting.get(args[0]!)?.(frame.subarray(headerBytes), withHeaders ? frame.subarray(0, headerBytes) : undefined);
        this.waiting.delete(args[0]!);
        continue;
      }
      this.buffer = this.buffer.subarray(end + 2);
      if (op === 'PING') this.socket.write(`PONG${CRLF}`);
      if (op === '-ERR') this.errors.push(line);
    }
  }
}

const isRoute = (value: unknown): value is RpcRoute =>
  typeof value === 'object' && value !== null && typeof (value as RpcRoute).service === 'string' && typeof (value as RpcRoute).method === 'string' && typeof (value as RpcRoute).request?.safeParse === 'function';

const isConsumer = (value: unknown): value is ConsumerContract =>
  typeof value === 'object' && value !== null && typeof (value as ConsumerContract).durableName === 'string' && typeof (value as ConsumerContract).event?.type === 'string';

/** Every route contract and consumer contract the contracts library exports (namespaces `*Rpc`, objects `*Consumers`). */
const exportedRoutes: RpcRoute[] = Object.entries(contracts).flatMap(([name, value]) => (name.endsWith('Rpc') ? Object.values(value as object).filter(isRoute) : []));
const exportedConsumers: ConsumerContract[] = Object.entries(contracts).flatMap(([name, value]) => (name.endsWith('Consumers') ? Object.values(value as object).filter(isConsumer) : []));

let system: TestSystem;
let raw: RawNats;
let runningServices: string[];
let pidsBefore: Map<string, number | undefined>;

beforeAll(async () => {
  system = await startTestSystem();
  raw = await RawNats.connect(TEST_NATS_URL);
  runningServices = [...new Set(system.supervisor.status().map((instance) => instance.service))];
  pidsBefore = new Map(system.supervisor.status().map((instance) => [instance.instance, instance.pid]));
}, 120_000);

afterAll(async () => {
  raw?.close();
  await system?.stop();
});

async function expectEverythingAlive(): Promise<void> {
  for (const instance of system.supervisor.status()) {
    expect(instance.restarts, `${instance.instance} restarts`).toBe(0);
    expect(instance.pid, `${instance.instance} pid`).toBe(pidsBefore.get(instance.instance));
    const ready = await fetch(`${instance.opsUrl}/health/ready`);
    expect(ready.status, `${instance.instance} ready`).toBe(200);
  }
}

describe('malformed requests to every RPC route of every running service', () => {
  it('answers each malformed variant with a 400 that echoes nothing, and no service dies', async () => {
    const routes = [...exportedRoutes.filter((route) => runningServices.includes(route.service)), ...runningServices.map((service) => systemReadyRoute(service as contracts.ServiceName))];
    // The contracts of every running service with routes are covered (a new route is covered without new code).
    for (const service of ['identity', 'media']) expect(routes.some((route) => route.service === service && route.method !== 'system.ready')).toBe(true);
    const failures: string[] = [];
    for (const route of routes) {
      const subject = rpcSubject(system.namespace, route.service, route.method);
      for (const variant of REQUEST_VARIANTS) {
        const reply = await raw.request(subject, variant.headers, variant.body);
        const where = `${route.service}.${route.method} / ${variant.name}`;
        if (!reply) {
          failures.push(`${where}: no answer`);
          continue;
        }
        const text = reply.payload.toString('utf8');
        let answer: { ok?: boolean; error?: { status?: number; code?: string } } = {};
        try {
          answer = JSON.parse(text) as typeof answer;
        } catch {
          failures.push(`${where}: answer is not JSON (${reply.headers?.toString('latin1').split(CRLF)[0] ?? 'no headers'})`);
          continue;
        }
        if (answer.ok !== false || answer.error?.status !== 400 || answer.error.code !== variant.code) failures.push(`${where}: ${text.slice(0, 200)}`);
        if (text.includes(MARKER)) failures.push(`${where}: the answer echoes the input`);
      }
      // A request without a reply subject: nobody to answer; it must not hurt either.
      raw.publish(subject, headerBlock(['Hw-Caller: {']), enc('{'));
    }
    expect(failures).toEqual([]);
    expect(raw.errors).toEqual([]);
    await expectEverythingAlive();
  }, 120_000);
});

describe('malformed events on every consumed subject', () => {
  it('dead-letters each one, keeps consuming, and the operator tool lists them without their payload and replays them', async () => {
    const consumers = exportedConsumers.filter((consumer) => runningServices.includes(consumer.service));
    expect(consumers.length).toBeGreaterThan(0);
    const nc = await connect({ servers: TEST_NATS_URL, name: 'malformed-events' });
    const jsm = await jetstreamManager(nc);
    // An event several services announce is sent under its first publisher's subject.
    const subjectOf = (event: ConsumerContract['event']) => eventSubject(system.namespace, event, event.publishers[0]);
    const subjects = [...new Set(consumers.map((consumer) => subjectOf(consumer.event)))];
    const eventVariants = (type: string): Array<{ headers: Buffer; body: Buffer }> => [
      { headers: headerBlock([`${EVENT_TYPE_HEADER}: ${type}`, `Nats-Msg-Id: ${randomUUID()}`]), body: Buffer.alloc(0) },
      { headers: headerBlock([`${EVENT_TYPE_HEADER}: ${type}`, `Nats-Msg-Id: ${randomUUID()}`]), body: enc(`{"${MARKER}":`) },
      { headers: headerBlock([`${EVENT_TYPE_HEADER}: ${type}`, `Nats-Msg-Id: ${randomUUID()}`]), body: Buffer.concat([enc('{"userId":"'), Buffer.from([0xff, 0xfe]), enc('"}')]) },
      { headers: headerBlock([`${EVENT_TYPE_HEADER}: ${type}`, `Nats-Msg-Id: ${randomUUID()}`]), body: enc(JSON.stringify({ userId: `${MARKER}@example.com` })) },
      { headers: headerBlock([`${EVENT_TYPE_HEADER}: Not${type}`, `Nats-Msg-Id: ${randomUUID()}`]), body: enc('{}') },
      { headers: headerBlock([`${EVENT_TYPE_HEADER}: ${type}`, `Nats-Msg-Id: ${randomUUID()}${'x'.repeat(300)}`]), body: enc('{}') },
    ];
    const perSubject = eventVariants('x').length;
    for (const subject of subjects) {
      const type = consumers.find((consumer) => subjectOf(consumer.event) === subject)!.event.type;
      for (const variant of eventVariants(type)) {
        // A JetStream publish over the raw socket: the reply is the stream's ack.
        const ack = await raw.request(subject, variant.headers, variant.body);
        expect(ack && JSON.parse(ack.payload.toString('utf8'))).toMatchObject({ stream: streamName(system.namespace, EVENTS_STREAM) });
      }
    }
    const dlq = streamName(system.namespace, DEAD_LETTER_STREAM);
    const lettersOf = async (consumer: ConsumerContract) => (await jsm.streams.info(dlq, { subjects_filter: '>' })).state.subjects?.[deadLetterSubject(system.namespace, consumer)] ?? 0;
    for (const consumer of consumers) {
      await eventually(async () => (await lettersOf(consumer)) === perSubject, { what: `${consumer.durableName}: every malformed event dead-lettered`, timeoutMs: 20_000 });
      await eventually(
        async () => {
          const info = await jsm.consumers.info(streamName(system.namespace, EVENTS_STREAM), consumer.durableName);
          return info.num_pending === 0 && info.num_ack_pending === 0;
        },
        { what: `${consumer.durableName}: consumed past them` },
      );
    }
    await expectEverythingAlive();

    // The operator tool, compiled, as `npm run dead-letters` runs it.
    const tool = (...args: string[]) =>
      promisify(execFile)(process.execPath, ['dist/tools/system/src/dead-letters.js', ...args], { env: { PATH: process.env.PATH, NATS_URL: TEST_NATS_URL, EVENT_NAMESPACE: system.namespace } });
    const target = consumers[0]!;
    const listing = await tool('list', '--consumer', target.durableName, '--json');
    const letters = listing.stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: number; consumer: string; reason: string });
    expect(letters).toHaveLength(perSubject);
    expect(letters.every((letter) => letter.consumer === target.durableName && letter.reason === 'invalid_payload')).toBe(true);
    expect(listing.stdout).not.toContain(MARKER);
    expect((await tool('list')).stdout).not.toContain(MARKER);
    // Replaying a letter that is still malformed: it goes back, is refused again, and is dead-lettered anew — nothing lost, nobody crashes.
    const replay = await tool('replay', String(letters[0]!.id));
    expect(replay.stdout).toContain('1 replayed, 0 failed');
    await eventually(async () => {
      const after = (await tool('list', '--consumer', target.durableName, '--json')).stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: number });
      return after.length === perSubject && !after.some((letter) => letter.id === letters[0]!.id);
    }, { what: 'the replayed letter dead-lettered anew under a new id', timeoutMs: 10_000 });
    await nc.close();
    await expectEverythingAlive();
  }, 120_000);
});
