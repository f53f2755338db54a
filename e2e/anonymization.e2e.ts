import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateGeneration, CreateOrder, GetBalance, GetGeneration, ListProducts, SendMessage, type GenerationRpc } from '@homiwork/contracts';
import { createTempDir, patternJpeg, removeTempDir } from '@homiwork/media-fixtures';
import { eventually } from '@homiwork/testing';
import { answerEveryKind, leaksIn, makeSampleResults, parseJob, requestBytes, searchableText, startRecordingServer, type RecordedRequest, type RecordingServer } from './support/contractor-server.js';
import { startTestSystem, type TestSystem } from './support/test-system.js';

const PASSWORD = 'a long and uncommon passphrase';
const CONTRACTOR_KEY = `contractor-key-${randomUUID()}`;
const PHONE = '+49 170 1234567';
const PHONE_DIGITS = '1701234567';
const OTHER_EMAIL = `bob.other.${randomUUID().slice(0, 6)}@example.org`;

let system: TestSystem;
let contractor: RecordingServer;
let processor: RecordingServer;
let fixtures: string;

beforeAll(async () => {
  fixtures = await createTempDir('anonymization-e2e-');
  contractor = await startRecordingServer(answerEveryKind(await makeSampleResults()));
  // A generic payment processor: it creates a checkout and answers where to send the payer.
  processor = await startRecordingServer((request) => {
    const { orderId } = JSON.parse(request.body.toString('utf8')) as { orderId: string };
    return { status: 200, body: { checkoutUrl: `https://pay.example.test/checkout/${encodeURIComponent(orderId)}` } };
  });
  system = await startTestSystem({
    env: {
      RATE_LIMIT_AUTH_PER_MINUTE: '10000',
      RATE_LIMIT_READ_PER_MINUTE: '100000',
      RATE_LIMIT_WRITE_PER_MINUTE: '10000',
      RATE_LIMIT_GENERATION_PER_MINUTE: '10000',
      ENERGY_SIGNUP_GRANT: '1000',
      CONTRACTOR_ADAPTERS: 'song=http,image=http,poem=http,text=http,video=http',
      CONTRACTOR_URL: contractor.url,
      CONTRACTOR_API_KEY: CONTRACTOR_KEY,
      PAYMENT_PROCESSOR: 'webhook',
      PAYMENT_PROCESSOR_URL: processor.url,
      PAYMENT_WEBHOOK_SECRET: randomBytes(32).toString('hex'),
      // Debug lines too are searched for what the user typed.
      LOG_LEVEL: 'debug',
    },
  });
}, 120_000);
afterAll(async () => {
  await system?.stop();
  await contractor?.stop();
  await processor?.stop();
  await removeTempDir(fixtures);
});

/** A person with everything that could identify them on the way in: account, tokens, address, headers. */
interface Person {
  userId: string;
  email: string;
  username: string;
  accessToken: string;
  refreshToken: string;
  address: string;
  headers: Record<string, string>;
}

async function newPerson(): Promise<Person> {
  const tag = randomUUID().replaceAll('-', '').slice(0, 10);
  const email = `ana.lopez.${tag}@example.com`;
  const username = `ana_${tag}`;
  const address = `203.0.113.${1 + Math.floor(Math.random() * 250)}`;
  const traceId = randomBytes(16).toString('hex');
  const headers = {
    'x-forwarded-for': address,
    'user-agent': `AnonProbe/9.1 (probe-${randomUUID()})`,
    traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
    tracestate: `probe=${randomBytes(6).toString('hex')}`,
    baggage: `probe.user=${randomBytes(6).toString('hex')}`,
    'x-request-id': `req-${randomUUID()}`,
    cookie: `hw_probe=${randomUUID()}`,
  };
  const { user } = await system.api({ headers }).accounts.register({ email, username, password: PASSWORD, ageConfirmed: true });
  const tokens = await system.api({ headers }).accounts.login({ login: email, password: PASSWORD });
  const person = { userId: user.id, email, username, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken, address, headers };
  await eventually(async () => (await system.api({ token: person.accessToken, headers }).call(GetBalance)).energy > 0, { what: 'signup grant' });
  return person;
}

const as = (person: Person) => system.api({ token: person.accessToken, headers: person.headers });

/** Everything that would tie a contractor's or processor's request to the person. */
async function identifiersOf(person: Person): Promise<Record<string, string>> {
  const secrets: Record<string, string> = {
    'user id': person.userId,
    email: person.email,
    'email local part': person.email.split('@')[0]!,
    username: person.username,
    'access token': person.accessToken,
    'refresh token': person.refreshToken,
    'client address': person.address,
  };
  for (const [name, value] of Object.entries(person.headers)) secrets[`header ${name}`] = value;
  const traceparent = person.headers.traceparent!.split('-');
  secrets['trace id'] = traceparent[1]!;
  secrets['parent span id'] = traceparent[2]!;
  const claims = JSON.parse(Buffer.from(person.accessToken.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  for (const claim of ['sub', 'sid', 'jti']) if (typeof claims[claim] === 'string') secrets[`token claim ${claim}`] = claims[claim];
  for (const { id } of await system.sql<{ id: string }>('SELECT id FROM identity.sessions WHERE user_id = $1', [person.userId])) secrets[`session ${id}`] = id;
  const hashes = await system.sql<{ ip_hash: string }>('SELECT DISTINCT ip_hash FROM identity.security_events WHERE user_id = $1 AND ip_hash IS NOT NULL', [person.userId]);
  // The security events prove the address was seen (and which hash it became).
  expect(hashes.map((row) => row.ip_hash)).toContain(createHash('sha256').update(system.secrets.IP_HASH_SALT).update(person.address).digest('hex'));
  for (const { ip_hash } of hashes) secrets[`address hash ${ip_hash.slice(0, 8)}`] = ip_hash;
  return secrets;
}

async function upload(person: Person, file: string): Promise<string> {
  const form = new FormData();
  form.append('file', new Blob([await readFile(file)], { type: 'image/jpeg' }), `${person.username}-holiday.jpg`);
  const response = await fetch(`${system.gateways[0]}/v1/uploads`, { method: 'POST', headers: { ...person.headers, authorization: `Bearer ${person.accessToken}` }, body: form });
  expect(response.status).toBe(201);
  return String(((await response.json()) as { id: string }).id);
}

async function finished(person: Person, id: string): Promise<GenerationRpc.Generation> {
  let last: GenerationRpc.Generation | undefined;
  await eventually(
    async () => {
      last = await as(person).call(GetGeneration, { params: { id } });
      return last.status === 'succeeded' || last.status === 'failed';
    },
    { what: `generation ${id} to finish`, timeoutMs: 60_000 },
  );
  return last!;
}

const headerNames = (request: RecordedRequest) => request.rawHeaders.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase());

describe('the contractor learns nothing that identifies the user (R4.2, §7.2)', () => {
  it('receives the scrubbed prompt, options and transformed bytes, and no identifier, token, address, hash or incoming header, in any encoding', async () => {
    const person = await newPerson();
    const uploadId = await upload(person, await patternJpeg(fixtures, 'holiday.jpg', 'a'));
    const transformed = Buffer.from(await (await fetch(`${system.gateways[0]}/v1/uploads/${uploadId}/file`, { headers: { authorization: `Bearer ${person.accessToken}` } })).arrayBuffer());
    const logsBefore = system.logs.length;
    const recordedBefore = contractor.requests.length;
    const prompt = (kind: string) =>
      `A ${kind} about the old lighthouse for ${person.username}. Mail me at ${person.email} or ${person.email.toUpperCase()}, ` +
      `call ${PHONE}, ask @${person.username.toUpperCase()} or ${person.username}'s friend at ${OTHER_EMAIL}.`;

    const requests: Array<Record<string, unknown>> = [
      { kind: 'text', prompt: prompt('greeting'), assistantStyle: 'greeting' },
      { kind: 'image', prompt: prompt('picture'), uploadIds: [uploadId] },
      { kind: 'poem', prompt: prompt('poem') },
      { kind: 'song', prompt: prompt('song') },
      { kind: 'video', prompt: prompt('video') },
    ];
    const jobIds: string[] = [];
    const contentIds: string[] = [];
    for (const body of requests) {
      const answer = await as(person).raw(CreateGeneration, { body });
      expect(answer.status, JSON.stringify(answer.body)).toBe(202);
      const { id } = answer.body as { id: string };
      jobIds.push(id);
      const job = await finished(person, id);
      expect(job.status, `${String(body.kind)}: ${JSON.stringify(job.error)}`).toBe('succeeded');
      contentIds.push(job.contentId!);
    }

    const recorded = contractor.requests.slice(recordedBefore);
    expect(recorded).toHaveLength(requests.length);
    // The requests are real ones: the provider's key, the kinds and the prompt's harmless words arrived.
    for (const request of recorded) {
      expect(request.method).toBe('POST');
      expect(request.url).toBe('/v1/jobs');
      expect(request.rawHeaders).toContain(`Bearer ${CONTRACTOR_KEY}`);
      const job = parseJob(request);
      expect(job.prompt).toContain('lighthouse');
      expect(job.prompt.replace(/\D/g, '')).not.toContain(PHONE_DIGITS);
      expect(Object.keys(job).sort()).toEqual(['inputs', 'jobId', 'kind', 'options', 'prompt']);
    }
    expect(recorded.map((request) => parseJob(request).kind).sort()).toEqual(['image', 'poem', 'song', 'text', 'video']);
    const jobs = recorded.map(parseJob);
    expect(jobs.find((job) => job.kind === 'text')!.options).toEqual({ style: 'greeting' });
    // The image job carries the upload's transformed bytes (media's WebP), not the original JPEG.
    const imageJob = jobs.find((job) => job.kind === 'image')!;
    expect(imageJob.inputs).toHaveLength(1);
    expect(imageJob.inputs[0]!.mimeType).toBe('image/webp');
    expect(Buffer.from(imageJob.inputs[0]!.dataBase64, 'base64').equals(transformed)).toBe(true);
    for (const job of jobs.filter((candidate) => candidate.kind !== 'image')) expect(job.inputs).toEqual([]);

    // No two jobs share an id, and none is an id the system uses.
    const sentIds = jobs.map((job) => job.jobId);
    expect(new Set(sentIds).size).toBe(sentIds.length);

    // No trace context, forwarding or cookie header of any kind.
    for (const request of recorded) {
      const names = headerNames(request);
      for (const forbidden of ['traceparent', 'tracestate', 'baggage', 'x-request-id', 'x-forwarded-for', 'forwarded', 'x-real-ip', 'cookie', 'hw-caller']) expect(names).not.toContain(forbidden);
      expect(names.filter((name) => name.startsWith('x-') || name.startsWith('hw-'))).toEqual([]);
    }

    const secrets = await identifiersOf(person);
    secrets['upload id'] = uploadId;
    jobIds.forEach((id, i) => (secrets[`generation id ${i}`] = id));
    contentIds.forEach((id, i) => (secrets[`content id ${i}`] = id));
    secrets['phone number'] = PHONE;
    secrets['phone number, local part'] = '170 1234567';
    secrets['another person’s email'] = OTHER_EMAIL;
    const haystack = searchableText(requestBytes(recorded));
    expect(leaksIn(haystack, secrets)).toEqual([]);
    // The search does find what is there: the provider's key, and the transformed upload inside its base64.
    expect(leaksIn(haystack, { key: CONTRACTOR_KEY })).not.toEqual([]);
    expect(haystack).toContain(transformed.subarray(100, 140).toString('latin1').toLowerCase());

    // What the user typed reaches no log line either.
    const logs = system.logs.slice(logsBefore).join('\n').toLowerCase();
    for (const [label, value] of Object.entries({ email: person.email, username: person.username, phone: PHONE, 'other email': OTHER_EMAIL, address: person.address })) {
      expect(logs.includes(value.toLowerCase()), label).toBe(false);
    }
  }, 180_000);

  it('fails the job closed when the user’s identifiers cannot be had for scrubbing: nothing is sent, the energy comes back', async () => {
    const person = await newPerson();
    const before = (await as(person).call(GetBalance)).energy;
    const identity = system.supervisor.status().find((instance) => instance.service === 'identity')!;
    const recordedBefore = contractor.requests.length;
    // Frozen, not killed: its NATS subscriptions stay, so requests to it time out rather than find no responder.
    process.kill(identity.pid!, 'SIGSTOP');
    let job: GenerationRpc.Generation;
    try {
      const answer = await as(person).raw(CreateGeneration, { body: { kind: 'text', prompt: `a note for ${person.username}` } });
      expect(answer.status, JSON.stringify(answer.body)).toBe(202);
      job = await finished(person, (answer.body as { id: string }).id);
    } finally {
      process.kill(identity.pid!, 'SIGCONT');
    }
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('identifiers_unavailable');
    expect(contractor.requests.length).toBe(recordedBefore);
    await eventually(async () => (await as(person).call(GetBalance)).energy === before, { what: 'refund' });
  }, 90_000);
});

describe('a text upload never reaches the contractor (§7.2; security review)', () => {
  it('is refused as an input at creation (422 unsupported_input), so nothing is sent and nothing charged', async () => {
    const person = await newPerson();
    const before = (await as(person).call(GetBalance)).energy;
    const form = new FormData();
    form.append('file', new Blob([`Notes of ${person.username}, ${person.email}, ${PHONE}`], { type: 'text/plain' }), 'notes.txt');
    const stored = await fetch(`${system.gateways[0]}/v1/uploads`, { method: 'POST', headers: { ...person.headers, authorization: `Bearer ${person.accessToken}` }, body: form });
    expect(stored.status).toBe(201);
    const notes = (await stored.json()) as { id: string };
    const recordedBefore = contractor.requests.length;
    const answer = await as(person).raw(CreateGeneration, { body: { kind: 'poem', prompt: 'a poem about my notes', uploadIds: [notes.id] } });
    expect(answer.status, JSON.stringify(answer.body)).toBe(422);
    expect((answer.body as { error: { code: string; message: string } }).error).toMatchObject({ code: 'unsupported_input', message: expect.stringContaining('uploadIds.0') });
    expect(contractor.requests.length).toBe(recordedBefore);
    expect((await system.sql('SELECT 1 FROM generation.jobs WHERE user_id = $1', [person.userId])).length).toBe(0);
    expect((await as(person).call(GetBalance)).energy).toBe(before);
  });
});

describe('the payment processor learns only amount, currency, order id and email (R6, §7.1)', () => {
  it('sends exactly those four fields and nothing else that identifies the user', async () => {
    const person = await newPerson();
    const recordedBefore = processor.requests.length;
    const pack = (await as(person).call(ListProducts)).items.find((item) => item.kind === 'energy')!;
    const order = await as(person).call(CreateOrder, { body: { productId: pack.id } });
    expect(order.checkoutUrl).toBe(`https://pay.example.test/checkout/${order.orderId}`);
    const recorded = processor.requests.slice(recordedBefore);
    expect(recorded).toHaveLength(1);
    const body = JSON.parse(recorded[0]!.body.toString('utf8')) as Record<string, unknown>;
    expect(body).toEqual({ orderId: order.orderId, amount: pack.amount, currency: pack.currency, email: person.email });
    const names = headerNames(recorded[0]!);
    for (const forbidden of ['traceparent', 'tracestate', 'baggage', 'x-request-id', 'x-forwarded-for', 'forwarded', 'cookie', 'hw-caller']) expect(names).not.toContain(forbidden);

    const secrets = await identifiersOf(person);
    // The email is one of the four things the processor may have.
    delete secrets.email;
    delete secrets['email local part'];
    const haystack = searchableText(requestBytes(recorded));
    expect(leaksIn(haystack, secrets)).toEqual([]);
    expect(leaksIn(haystack, { email: person.email })).not.toEqual([]);
  });
});

describe('chat replies: the contractor learns nothing that identifies the user (R5.1, §7.2)', () => {
  it('receives every turn scrubbed — email, username, phone in several turns — and no id, token, address, hash or header, in any encoding; each reply its own job id', async () => {
    const person = await newPerson();
    const logsBefore = system.logs.length;
    const recordedBefore = contractor.requests.length;
    const turns = [
      `Hello, I am ${person.username}. Please help me write a letter about the old lighthouse.`,
      `Put my email ${person.email} (or ${person.email.toUpperCase()}) and my phone ${PHONE} under it, signed @${person.username.toUpperCase()}.`,
      `Also send a copy to ${OTHER_EMAIL}, and say that ${person.username} lives by the lighthouse.`,
    ];
    const answers: Array<{ message: { id: string }; reply: { id: string } }> = [];
    for (const text of turns) answers.push(await as(person).assistants.send('letter-writer', text));

    const recorded = contractor.requests.slice(recordedBefore);
    expect(recorded).toHaveLength(turns.length);
    const jobs = recorded.map(parseJob);
    for (const [index, request] of recorded.entries()) {
      expect(request.method).toBe('POST');
      expect(request.url).toBe('/v1/jobs');
      expect(request.rawHeaders).toContain(`Bearer ${CONTRACTOR_KEY}`);
      const job = jobs[index]!;
      expect(Object.keys(job).sort()).toEqual(['inputs', 'jobId', 'kind', 'options', 'prompt']);
      expect(job.kind).toBe('text');
      expect(job.options).toEqual({ style: 'formal-letter' });
      expect(job.inputs).toEqual([]);
      // The real conversation arrived: the harmless words of the first turn, in every request (it is the context).
      expect(job.prompt).toContain('lighthouse');
      expect(job.prompt.replace(/\D/g, '')).not.toContain(PHONE_DIGITS);
      const names = headerNames(request);
      for (const forbidden of ['traceparent', 'tracestate', 'baggage', 'x-request-id', 'x-forwarded-for', 'forwarded', 'x-real-ip', 'cookie', 'hw-caller']) expect(names).not.toContain(forbidden);
      expect(names.filter((name) => name.startsWith('x-') || name.startsWith('hw-'))).toEqual([]);
    }
    // The later requests carry the earlier turns as context (the contractor's own earlier reply included), scrubbed, not dropped.
    expect(jobs[1]!.prompt).toContain('under it, signed');
    expect(jobs[2]!.prompt).toContain('under it, signed');
    expect(jobs[2]!.prompt).toContain('Also send a copy to');
    expect(jobs[2]!.prompt).toContain('recording contractor');
    const jobIds = jobs.map((job) => job.jobId);
    expect(new Set(jobIds).size).toBe(turns.length);

    const secrets = await identifiersOf(person);
    secrets['phone number'] = PHONE;
    secrets['phone number, local part'] = '170 1234567';
    secrets['another person’s email'] = OTHER_EMAIL;
    answers.forEach(({ message, reply }, i) => {
      secrets[`message id ${i}`] = message.id;
      secrets[`reply id ${i}`] = reply.id;
    });
    const haystack = searchableText(requestBytes(recorded));
    expect(leaksIn(haystack, secrets)).toEqual([]);
    // The job ids are none of the system's ids either.
    expect(jobIds.filter((jobId) => Object.values(secrets).includes(jobId))).toEqual([]);
    // The search does find what is there.
    expect(leaksIn(haystack, { key: CONTRACTOR_KEY })).not.toEqual([]);

    // What the user typed reaches no log line either.
    const logs = system.logs.slice(logsBefore).join('\n').toLowerCase();
    for (const [label, value] of Object.entries({ email: person.email, username: person.username, phone: PHONE, 'other email': OTHER_EMAIL, address: person.address })) {
      expect(logs.includes(value.toLowerCase()), label).toBe(false);
    }
  }, 120_000);
});

describe('chat replies fail closed (R5.1, §7.2)', () => {
  it('when the user’s identifiers cannot be had for scrubbing: nothing is sent, the message stays unanswered, the energy comes back', async () => {
    const person = await newPerson();
    const before = (await as(person).call(GetBalance)).energy;
    const identity = system.supervisor.status().find((instance) => instance.service === 'identity')!;
    const recordedBefore = contractor.requests.length;
    const text = `a formal letter about the lighthouse from ${person.username}`;
    // Frozen, not killed: its NATS subscriptions stay, so requests to it time out rather than find no responder.
    process.kill(identity.pid!, 'SIGSTOP');
    let answer: Awaited<ReturnType<ReturnType<typeof as>['raw']>>;
    try {
      answer = await as(person).raw(SendMessage, { params: { assistantId: 'letter-writer' }, body: { text } });
    } finally {
      process.kill(identity.pid!, 'SIGCONT');
    }
    // Generation fails closed once identity's answer is overdue; chat answers that as a failed reply.
    expect(answer.status, JSON.stringify(answer.body)).toBe(502);
    expect((answer.body as { error: { code: string } }).error.code).toBe('reply_failed');
    const kept = (await as(person).assistants.messages('letter-writer')).items;
    expect(kept.map((message) => [message.role, message.text, message.status])).toEqual([['user', text, 'unanswered']]);
    await eventually(async () => (await as(person).call(GetBalance)).energy === before, { what: 'refund' });
    // Identity answers again: a request still in flight somewhere must not go out late.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(contractor.requests.length).toBe(recordedBefore);
  }, 90_000);
});
