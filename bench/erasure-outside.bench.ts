/**
 * One big erasure from outside (issue 11, bench (a)): "erasure of a user with 1,000 uploads,
 * 1,000 content items and 500 chat messages, from `DELETE /v1/me` to a complete receipt —
 * goal < 5 s on 2 cores". The system exactly as `npm start` runs it (startSystemProcess:
 * the compiled supervisor, migrate, the embedded S3 server and mail sink, its own
 * nats-server, every service of the manifest, free ports, NODE_ENV=production,
 * LOG_LEVEL=warn), the machine's PostgreSQL, rate limits at their maximum.
 *
 * Seeding is not measured, so it is fast but real. Through the API, per measured user: one
 * text upload (multipart POST /v1/uploads), one poem (POST /v1/generations, waited for), one
 * message to every assistant of the catalogue (each stores the message and its reply). Then
 * the rows are replicated with SQL, `INSERT … SELECT` from the real row with new ids (same
 * user, every other column as the service wrote it, whatever columns the schema has now):
 * media.uploads to BENCH_UPLOADS (1,000), generation.jobs + generation.contents to
 * BENCH_CONTENTS (1,000 each, every copy a job with its content), chat.messages to
 * BENCH_MESSAGES (500, spread over the assistants, each copy of a real sealed row with a
 * new id and an earlier time; the 100-per-conversation cap is the send path's trim, not a
 * constraint, so the copies stand), and retention's due_items of the real upload and content
 * for every copy (as if retention had seen each UploadStored/ContentCreated). Every copied
 * row gets its object: the real object's bytes put with the minio client under the key the
 * service would have used (the real key with the real id replaced by the new one:
 * `media/<user>/uploads/<id>`, `generation/<user>/<contentId>`).
 * A bystander user with a little data (one of each, through the API) must be untouched.
 *
 * Measured, BENCH_REPEATS (3) times with a fresh user each: t0 = DELETE /v1/me sent; then
 * GET /v1/privacy/erasures/:erasureId every BENCH_POLL_MS (20) until `completed`. Total ms,
 * per service its receipt's purgedAt − t0 (the services' own clocks, same machine) and when
 * the poll first saw it, completedAt − t0; CPU seconds and peak RSS (BENCH_SAMPLE_MS samples)
 * of every process over the erasure. Checked after: zero rows of the user in media,
 * generation, chat and retention's due items, zero objects under its prefixes, the account
 * gone, a signed receipt, the bystander's rows and objects as before.
 *
 * Baseline in the same run: for each repeat, a ghost user id (never registered) got the same
 * rows and objects when the measured user was seeded; it is removed with plain SQL
 * `DELETE … WHERE user_id = $1 RETURNING object_key` on media.uploads, generation.contents,
 * generation.jobs and chat.messages (autocommit, one after the other) plus one minio
 * `removeObjects` call with every key, timed from this process. Ratio = erasure / baseline.
 *
 * Not part of `npm test`. From the repository root with the repo's Node 24 (it builds what
 * changed first, as npm start does; BENCH_BUILD=0 skips that):
 *   node_modules/.bin/node --import @swc-node/register/esm-register bench/erasure-outside.bench.ts
 * Everything it creates (database, run directory with the S3 server's files) is removed at
 * the end, also on failure.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client as Minio } from 'minio';
import pg from 'pg';
import { ApiClient } from '@homiwork/api-client';
import type { GetErasure, HttpResponse } from '@homiwork/contracts';
import { parseS3Url } from '@homiwork/storage';
import { startSystemProcess, type SystemProcess } from '@homiwork/system-runner';
import { databaseUrl, randomId } from '@homiwork/testing';
import { type Cleanup, createBenchDatabase, intEnv, out, pidsNamed, runBench, sleep } from './support/bench-kit.js';
import { cpuWindow, DISTURBED_PERCENT, OTHER, SELF, waitForQuietMachine, type CpuGroups, type CpuUsage } from './support/cpu.js';
import { closedLoop } from './support/loops.js';
import { rssOfProc, sampleRss } from './support/memory.js';
import { Http } from './support/http.js';
import { buildSystem, MAX_RATE_LIMIT, outsideSystemEnv, processesOf, type ProcessRow } from './support/system.js';
import { fmt, MB, median, pad } from './support/stats.js';

const CONFIG = {
  uploads: intEnv('BENCH_UPLOADS', 1_000, 1, 100_000),
  contents: intEnv('BENCH_CONTENTS', 1_000, 1, 100_000),
  messages: intEnv('BENCH_MESSAGES', 500, 6, 100_000),
  repeats: intEnv('BENCH_REPEATS', 3, 1, 20),
  pollMs: intEnv('BENCH_POLL_MS', 20, 1, 1_000),
  /** An erasure not completed this long after DELETE /v1/me fails the run. */
  erasureTimeoutMs: intEnv('BENCH_ERASURE_TIMEOUT_MS', 120_000, 1_000, 1_800_000),
  /** Objects put in parallel while seeding. */
  seedConcurrency: intEnv('BENCH_SEED_CONCURRENCY', 16, 1, 256),
  sampleMs: intEnv('BENCH_SAMPLE_MS', 50, 10, 10_000),
  build: process.env.BENCH_BUILD !== '0',
  quietWaitSeconds: intEnv('BENCH_QUIET_WAIT_SECONDS', 60, 0, 3_600),
  totalTimeoutMs: intEnv('BENCH_TIMEOUT_MS', 1_800_000, 60_000, 7_200_000),
};
const SIGNUP_GRANT = 1_000_000;
const RUN_ID = `bench${randomId(3)}`;
const PASSWORD = 'a long and uncommon bench passphrase';
const OTHER_BENCHES = ['events', 'identity', 'media', 'transport', 'billing', 'generation', 'chat', 'erasure', 'sweep'];
/** s3rver's built-in account (libs/storage/src/local-s3.ts) and the bucket dev-infra creates. */
const LOCAL_S3_CREDENTIALS = 'S3RVER:S3RVER';
const LOCAL_S3_BUCKET = 'homiwork';
type ErasureView = HttpResponse<typeof GetErasure>;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const cleanups: Cleanup[] = [];

// ---------------------------------------------------------------------------------------
// HTTP as a client
// ---------------------------------------------------------------------------------------


// ---------------------------------------------------------------------------------------
// Users through the API
// ---------------------------------------------------------------------------------------

interface Person {
  id: string;
  token: string;
  uploadId: string;
  contentId: string;
  jobId: string;
  assistants: string[];
  /** The chat rows the API stored (message and reply per assistant), read before any copy. */
  messageRows: Array<{ id: string; assistantId: string }>;
}

async function registerPerson(api: ApiClient, label: string): Promise<{ id: string; token: string }> {
  const tag = `${RUN_ID}${label}`;
  const { user } = await api.accounts.register({ email: `bench.${tag}@example.com`, username: `bench_${tag}`, password: PASSWORD, ageConfirmed: true });
  const { accessToken } = await api.accounts.login({ login: `bench_${tag}`, password: PASSWORD });
  return { id: user.id, token: accessToken };
}

/** One upload, one poem and one message per assistant, all through the public API. */
async function seedThroughApi(api: ApiClient, apiUrl: string, label: string): Promise<Person> {
  const { id, token } = await registerPerson(api, label);
  const as = api.withToken(token);

  const form = new FormData();
  const text = 'Notes for the essay on the water cycle: evaporation, condensation, precipitation, collection.\n'.repeat(12);
  form.append('file', new Blob([text], { type: 'text/plain' }), 'notes.txt');
  const uploaded = await fetch(`${apiUrl}/v1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  const uploadBody = (await uploaded.json()) as { id?: string };
  if (uploaded.status !== 201 || !uploadBody.id) throw new Error(`POST /v1/uploads answered ${uploaded.status}: ${JSON.stringify(uploadBody).slice(0, 300)}`);

  const { id: jobId } = await as.generations.create({ kind: 'poem', prompt: 'A short poem about rain on the window' });
  let contentId: string | undefined;
  const deadline = performance.now() + 60_000;
  for (;;) {
    const job = await as.generations.get(jobId);
    if (job.status === 'succeeded') {
      contentId = job.contentId;
      break;
    }
    if (job.status === 'failed') throw new Error(`the seed poem failed: ${JSON.stringify(job.error)}`);
    if (performance.now() > deadline) throw new Error(`the seed poem did not finish within 60 s (${job.status})`);
    await sleep(50);
  }
  if (!contentId) throw new Error('the seed poem succeeded without a content id');

  const assistants = (await as.assistants.list()).items.map((assistant) => assistant.id);
  if (assistants.length === 0) throw new Error('no assistants in the catalogue');
  for (const assistant of assistants) await as.assistants.send(assistant, 'Could you help me with a short rhyme about autumn?');
  return { id, token, uploadId: uploadBody.id, contentId, jobId, assistants, messageRows: [] };
}

/** The chat rows the API stored for the person, before anything is copied. */
async function readSeedMessages(sql: Sql, person: Person): Promise<void> {
  const { rows } = await sql.query<{ id: string; assistant_id: string }>('SELECT id, assistant_id FROM chat.messages WHERE user_id = $1 ORDER BY assistant_id, created_at, id', [person.id]);
  person.messageRows = rows.map((row) => ({ id: row.id, assistantId: row.assistant_id }));
}

// ---------------------------------------------------------------------------------------
// Replicating rows with SQL and objects with the minio client
// ---------------------------------------------------------------------------------------

type Sql = pg.Client;

const columnsCache = new Map<string, string[]>();
async function columnsOf(sql: Sql, table: string): Promise<string[]> {
  const cached = columnsCache.get(table);
  if (cached) return cached;
  const [schema, name] = table.split('.') as [string, string];
  const { rows } = await sql.query<{ column_name: string }>('SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position', [schema, name]);
  if (rows.length === 0) throw new Error(`no table ${table}`);
  const columns = rows.map((row) => row.column_name);
  columnsCache.set(table, columns);
  return columns;
}

const literal = (uuid: string): string => {
  if (!UUID.test(uuid)) throw new Error(`not a uuid: ${uuid}`);
  return `'${uuid}'::uuid`;
};

/**
 * Copies the one row of `table` matching `where` once per entry of `ids`: every column as it
 * is, except those in `set` (SQL over `src`, the row, and `g`, the copy: `g.id`, `g.link` —
 * the entry of `links` at the same place — and `g.i`, from 1). Answers the `returning`
 * column of every copy.
 */
async function replicate(sql: Sql, table: string, where: { text: string; values: unknown[] }, ids: string[], set: Record<string, string>, options: { links?: string[]; returning?: string } = {}): Promise<string[]> {
  if (ids.length === 0) return [];
  const columns = await columnsOf(sql, table);
  for (const column of Object.keys(set)) if (!columns.includes(column)) throw new Error(`${table} has no column ${column}`);
  const source = await sql.query(`SELECT 1 FROM ${table} WHERE ${where.text}`, where.values);
  if (source.rowCount !== 1) throw new Error(`expected one source row in ${table}, found ${source.rowCount}`);
  const n = where.values.length;
  const unnest = options.links ? `unnest($${n + 1}::uuid[], $${n + 2}::uuid[]) WITH ORDINALITY AS g(id, link, i)` : `unnest($${n + 1}::uuid[]) WITH ORDINALITY AS g(id, i)`;
  const quoted = columns.map((column) => `"${column}"`).join(', ');
  const values = columns.map((column) => set[column] ?? `src."${column}"`).join(', ');
  const { rows } = await sql.query<{ value: string }>(
    `INSERT INTO ${table} (${quoted}) SELECT ${values} FROM (SELECT * FROM ${table} WHERE ${where.text}) src CROSS JOIN ${unnest}${options.returning ? ` RETURNING "${options.returning}"::text AS value` : ''}`,
    [...where.values, ids, ...(options.links ? [options.links] : [])],
  );
  if (!options.returning) return [];
  return rows.map((row) => row.value);
}

const newIds = (count: number): string[] => Array.from({ length: Math.max(0, count) }, () => randomUUID());

interface Storage {
  minio: Minio;
  bucket: string;
}

async function objectBytes(storage: Storage, key: string): Promise<{ data: Buffer; contentType: string }> {
  const stat = await storage.minio.statObject(storage.bucket, key);
  const chunks: Buffer[] = [];
  for await (const chunk of await storage.minio.getObject(storage.bucket, key)) chunks.push(chunk as Buffer);
  const contentType = (stat.metaData as Record<string, string | undefined>)['content-type'] ?? 'application/octet-stream';
  return { data: Buffer.concat(chunks), contentType };
}

/** Puts the real object's bytes under every key, BENCH_SEED_CONCURRENCY at a time. */
async function putCopies(storage: Storage, sourceKey: string, keys: string[]): Promise<void> {
  const { data, contentType } = await objectBytes(storage, sourceKey);
  const loop = await closedLoop(CONFIG.seedConcurrency, { jobs: keys.length }, async (index) => {
    await storage.minio.putObject(storage.bucket, keys[index]!, data, data.length, { 'Content-Type': contentType });
    return { ok: true, outcome: 'put' };
  });
  if (loop.done !== keys.length) throw new Error(`putting object copies failed: ${JSON.stringify(loop.outcomes)}; first: ${loop.firstFailure}`);
}

async function countObjects(storage: Storage, prefix: string): Promise<number> {
  let count = 0;
  for await (const item of storage.minio.listObjects(storage.bucket, prefix, true)) if (typeof (item as { name?: unknown }).name === 'string') count++;
  return count;
}

async function tableExists(sql: Sql, table: string): Promise<boolean> {
  return (await sql.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [table])).rows[0]!.found !== null;
}

/**
 * The user's data to the configured sizes: rows as described at the top, for `owner` (the
 * real user, whose retention due items are copied too) or for a ghost user id (the
 * baseline's: same rows under another user, no due items). Answers the object keys made.
 */
async function replicateFor(sql: Sql, storage: Storage, person: Person, owner: string, withDueItems: boolean): Promise<{ uploadKeys: string[]; contentKeys: string[]; messages: number }> {
  const ghost = owner !== person.id;
  const keyFor = (idColumn: string) => (ghost ? `replace(replace(src.object_key, src.user_id::text, ${literal(owner)}::text), src.${idColumn}::text, g.id::text)` : `replace(src.object_key, src.${idColumn}::text, g.id::text)`);
  const userSet: Record<string, string> = ghost ? { user_id: literal(owner) } : {};

  // Uploads: the real one plus copies (the ghost gets as many copies as the real user has uploads).
  const uploadIds = newIds(ghost ? CONFIG.uploads : CONFIG.uploads - 1);
  const realUploadKey = (await sql.query<{ object_key: string }>('SELECT object_key FROM media.uploads WHERE id = $1', [person.uploadId])).rows[0]?.object_key;
  if (!realUploadKey?.includes(person.uploadId)) throw new Error(`the seed upload's object key does not name its id (${realUploadKey === undefined ? 'no row' : 'unexpected layout'})`);
  const uploadKeys = await replicate(sql, 'media.uploads', { text: 'id = $1', values: [person.uploadId] }, uploadIds, { id: 'g.id', object_key: keyFor('id'), ...userSet }, { returning: 'object_key' });
  await putCopies(storage, realUploadKey, uploadKeys);

  // Contents with their jobs (each copy a succeeded job whose content it is).
  const contentIds = newIds(ghost ? CONFIG.contents : CONFIG.contents - 1);
  const jobIds = newIds(contentIds.length);
  const realContentKey = (await sql.query<{ object_key: string }>('SELECT object_key FROM generation.contents WHERE id = $1', [person.contentId])).rows[0]?.object_key;
  if (!realContentKey?.includes(person.contentId)) throw new Error(`the seed content's object key does not name its id (${realContentKey === undefined ? 'no row' : 'unexpected layout'})`);
  await replicate(sql, 'generation.jobs', { text: 'id = $1', values: [person.jobId] }, jobIds, { id: 'g.id', content_id: 'g.link', ...userSet }, { links: contentIds });
  const contentKeys = await replicate(sql, 'generation.contents', { text: 'id = $1', values: [person.contentId] }, contentIds, { id: 'g.id', job_id: 'g.link', object_key: keyFor('id'), ...userSet }, { links: jobIds, returning: 'object_key' });
  await putCopies(storage, realContentKey, contentKeys);

  // Chat messages spread over the assistants, each copy of one of the real rows of its
  // conversation, alternating, one second earlier per copy.
  const real = person.messageRows;
  const byAssistant = new Map<string, string[]>();
  for (const row of real) byAssistant.set(row.assistantId, [...(byAssistant.get(row.assistantId) ?? []), row.id]);
  const conversations = [...byAssistant.keys()];
  if (conversations.length === 0) throw new Error('the seed user has no chat messages');
  const target = CONFIG.messages;
  let made = ghost ? 0 : real.length;
  for (const [index, assistant] of conversations.entries()) {
    const rows = byAssistant.get(assistant)!;
    // This conversation's share of the total, the remainder to the first ones.
    const share = Math.floor(target / conversations.length) + (index < target % conversations.length ? 1 : 0);
    const copies = ghost ? share : share - rows.length;
    for (const [k, rowId] of rows.entries()) {
      const count = Math.floor(copies / rows.length) + (k < copies % rows.length ? 1 : 0);
      await replicate(sql, 'chat.messages', { text: 'id = $1', values: [rowId] }, newIds(count), { id: 'g.id', created_at: `src.created_at - g.i::int * interval '${rows.length} seconds' - interval '${k} seconds'`, ...userSet });
      made += count;
    }
  }
  if (made !== target) throw new Error(`made ${made} chat messages, wanted ${target}`);

  // Retention's policy clock: a due item per copied upload and content, as its events would have made.
  if (withDueItems && (await tableExists(sql, 'retention.due_items'))) {
    for (const [kind, realId, copies] of [
      ['upload', person.uploadId, uploadIds],
      ['content', person.contentId, contentIds],
    ] as const) {
      const found = await waitForRow(sql, 'SELECT 1 FROM retention.due_items WHERE kind = $1 AND subject_id = $2', [kind, realId], 10_000);
      if (found) await replicate(sql, 'retention.due_items', { text: 'kind = $1 AND subject_id = $2', values: [kind, realId] }, copies, { subject_id: 'g.id' });
      else out(`    note: retention has no due item for the seed ${kind} after 10 s; its copies get none`);
    }
  }
  return { uploadKeys, contentKeys, messages: made };
}

async function waitForRow(sql: Sql, text: string, values: unknown[], timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (((await sql.query(text, values)).rowCount ?? 0) > 0) return true;
    if (performance.now() > deadline) return false;
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------
// What a user has, for the checks
// ---------------------------------------------------------------------------------------

const USER_TABLES = ['identity.users:id', 'media.uploads', 'generation.jobs', 'generation.contents', 'chat.messages', 'chat.conversations', 'retention.due_items'] as const;

async function footprint(sql: Sql, storage: Storage, userId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const entry of USER_TABLES) {
    const [table, column = 'user_id'] = entry.split(':') as [string, string?];
    if (!(await tableExists(sql, table))) continue;
    counts[table] = Number((await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${column} = $1`, [userId])).rows[0]!.n);
  }
  counts['objects media/'] = await countObjects(storage, `media/${userId}/`);
  counts['objects generation/'] = await countObjects(storage, `generation/${userId}/`);
  return counts;
}

const describe = (counts: Record<string, number>): string =>
  Object.entries(counts)
    .map(([what, n]) => `${what} ${n}`)
    .join(', ');

// ---------------------------------------------------------------------------------------
// One measured erasure
// ---------------------------------------------------------------------------------------

interface ReceiptTiming {
  service: string;
  /** purgedAt − t0, the service's own clock. */
  purgedMs: number;
  /** When a poll first showed the receipt, from t0. */
  seenMs: number;
  counts: Record<string, number>;
}

interface Repeat {
  index: number;
  totalMs: number;
  deleteMs: number;
  openedMs: number;
  completedMs: number;
  receipts: ReceiptTiming[];
  polls: number;
  cpu: CpuUsage;
  peak: Map<number, number>;
  baselineMs: number;
  baselineSqlMs: number;
  baselineObjectsMs: number;
  baselineListMs: number;
  baselineRows: number;
  baselineObjects: number;
  before: Record<string, number>;
  after: Record<string, number>;
  signed: boolean;
}

async function measureErasure(index: number, http: Http, sql: Sql, storage: Storage, person: Person, rows: ProcessRow[], groups: CpuGroups): Promise<Omit<Repeat, 'baselineMs' | 'baselineSqlMs' | 'baselineObjectsMs' | 'baselineListMs' | 'baselineRows' | 'baselineObjects' | 'before' | 'after'>> {
  const sampler = sampleRss(
    rows.map((row) => row.pid),
    CONFIG.sampleMs,
  );
  const window = cpuWindow(groups);
  const t0Wall = Date.now();
  const t0 = performance.now();
  const deleted = await http.call('DELETE', '/v1/me', person.token, { password: PASSWORD });
  const deleteMs = performance.now() - t0;
  if (deleted.status !== 202) {
    await sampler.stop();
    throw new Error(`DELETE /v1/me answered ${deleted.status}: ${deleted.body.slice(0, 300)}`);
  }
  const { erasureId } = JSON.parse(deleted.body) as { erasureId: string };

  const seen = new Map<string, number>();
  let openedMs = Number.NaN;
  let polls = 0;
  let last: ErasureView | undefined;
  let lastStatus = 0;
  for (;;) {
    const polled = await http.call('GET', `/v1/privacy/erasures/${erasureId}`, undefined);
    const at = performance.now() - t0;
    polls++;
    lastStatus = polled.status;
    if (polled.status === 200) {
      last = JSON.parse(polled.body) as ErasureView;
      if (Number.isNaN(openedMs)) openedMs = at;
      for (const receipt of last.receipts) if (!seen.has(receipt.service)) seen.set(receipt.service, at);
      if (last.status === 'completed') break;
    } else if (polled.status !== 404) {
      throw new Error(`GET /v1/privacy/erasures/:id answered ${polled.status}: ${polled.body.slice(0, 300)}`);
    }
    if (at > CONFIG.erasureTimeoutMs) {
      await sampler.stop();
      const missing = last ? last.expectedServices.filter((service) => !last!.receipts.some((receipt) => receipt.service === service)) : [];
      throw new Error(
        `erasure ${erasureId} not completed ${CONFIG.erasureTimeoutMs} ms after DELETE /v1/me: ${last ? `status ${last.status}, receipts from ${last.receipts.map((r) => r.service).join(', ') || 'none'}, missing ${missing.join(', ') || 'none'}` : `never readable (last answer ${lastStatus})`}`,
      );
    }
    await sleep(CONFIG.pollMs);
  }
  const totalMs = performance.now() - t0;
  const cpu = window.stop();
  if (!last) throw new Error('unreachable: completed without a view');
  const { peak } = await sampler.stop();
  const receipts = last.receipts
    .map((receipt) => ({ service: receipt.service, purgedMs: Date.parse(receipt.purgedAt) - t0Wall, seenMs: seen.get(receipt.service) ?? Number.NaN, counts: receipt.counts }))
    .sort((a, b) => a.purgedMs - b.purgedMs);
  return { index, totalMs, deleteMs, openedMs, completedMs: last.completedAt ? Date.parse(last.completedAt) - t0Wall : Number.NaN, receipts, polls, cpu, peak, signed: typeof last.jws === 'string' && last.jws.split('.').length === 3 };
}

/**
 * The baseline: the ghost's rows with plain DELETEs, then its objects with one removeObjects
 * call. Also, apart (not in `ms`): listing the ghost's two prefixes, as the services' purges
 * do before removing, to show what a listing costs on this S3 server.
 */
async function plainDelete(sql: Sql, storage: Storage, ghost: string): Promise<{ ms: number; sqlMs: number; objectsMs: number; listMs: number; rows: number; objects: number }> {
  const listed = performance.now();
  await countObjects(storage, `media/${ghost}/`);
  await countObjects(storage, `generation/${ghost}/`);
  const listMs = performance.now() - listed;
  const t0 = performance.now();
  const keys: string[] = [];
  let rows = 0;
  for (const table of ['media.uploads', 'generation.contents', 'generation.jobs', 'chat.messages']) {
    const returning = table === 'media.uploads' || table === 'generation.contents' ? ' RETURNING object_key' : '';
    const result = await sql.query<{ object_key: string }>(`DELETE FROM ${table} WHERE user_id = $1${returning}`, [ghost]);
    rows += result.rowCount ?? 0;
    if (returning) keys.push(...result.rows.map((row) => row.object_key));
  }
  const sqlMs = performance.now() - t0;
  const errors = (await storage.minio.removeObjects(storage.bucket, keys)) as Array<{ Error?: unknown } | undefined>;
  const ms = performance.now() - t0;
  const failed = errors.filter((entry) => entry?.Error !== undefined);
  if (failed.length > 0) throw new Error(`baseline removeObjects reported ${failed.length} failures`);
  return { ms, sqlMs, objectsMs: ms - sqlMs, listMs, rows, objects: keys.length };
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  out(`erasure outside bench ${RUN_ID} — Node ${process.version}, ${cpus().length} cores; load generator on the same cores; load average at start ${loadavg()}`);
  out(`config: ${JSON.stringify(CONFIG)}`);
  if (CONFIG.build) {
    out('building services and supervisor (nx, cached)…');
    buildSystem();
  }
  const database = `${RUN_ID}_system`;
  await createBenchDatabase(database, cleanups);
  const runDir = await mkdtemp(join(tmpdir(), `${RUN_ID}-run-`));
  cleanups.push({ what: 'removing the run directory', run: () => rm(runDir, { recursive: true, force: true }) });
  const startedAt = performance.now();
  const system: SystemProcess = await startSystemProcess(outsideSystemEnv({ url: databaseUrl(database), runDir, namespace: RUN_ID }, { ENERGY_SIGNUP_GRANT: String(SIGNUP_GRANT) }), { timeoutMs: 120_000 });
  cleanups.push({ what: 'stopping the system', run: () => system.stop() });
  const instances = await system.status();
  const rows = processesOf(system, instances);
  if (!instances.some((instance) => instance.service === 'retention' && instance.pid)) throw new Error('no running retention instance in the supervisor status');
  out(`system up in ${fmt((performance.now() - startedAt) / 1000)} s as npm start runs it (NODE_ENV=production, LOG_LEVEL=warn, rate limits ${MAX_RATE_LIMIT}/min)`);
  out(`processes: ${rows.map((row) => `${row.label} ${row.pid}`).join(', ')}`);

  // The embedded S3 server the system started (run-system says where).
  const s3Host = system.output.map((line) => /embedded S3-compatible server on (\S+)/.exec(line)?.[1]).find((host) => host !== undefined);
  if (!s3Host) throw new Error('the system did not say where its embedded S3 server is');
  const s3 = parseS3Url(`http://${LOCAL_S3_CREDENTIALS}@${s3Host}`, LOCAL_S3_BUCKET);
  const storage: Storage = { minio: new Minio({ ...s3, region: 'us-east-1' }), bucket: s3.bucket };

  const sql = new pg.Client({ connectionString: databaseUrl(database) });
  await sql.connect();
  cleanups.push({ what: 'closing the SQL connection', run: () => sql.end() });
  const http = new Http(system.apiUrl);
  cleanups.push({ what: 'closing the HTTP agent', run: () => Promise.resolve(http.close()) });
  const api = new ApiClient({ baseUrl: system.apiUrl });

  const bystander = await seedThroughApi(api, system.apiUrl, 'bystander');
  await sleep(1_000);
  const bystanderBefore = await footprint(sql, storage, bystander.id);
  out(`bystander (a little data, must stay): ${describe(bystanderBefore)}`);

  const groups: CpuGroups = Object.fromEntries(rows.map((row) => [row.label, () => [row.pid]]));
  groups.postgres = () => pidsNamed('postgres');

  const repeats: Repeat[] = [];
  for (let index = 1; index <= CONFIG.repeats; index++) {
    out();
    out(`repeat ${index}/${CONFIG.repeats}`);
    const seedStarted = performance.now();
    const person = await seedThroughApi(api, system.apiUrl, `e${index}`);
    // Let the API-made facts reach every consumer (retention's due items among them) before copying.
    await sleep(1_000);
    await readSeedMessages(sql, person);
    const made = await replicateFor(sql, storage, person, person.id, true);
    const ghost = randomUUID();
    const ghostMade = await replicateFor(sql, storage, person, ghost, false);
    const before = await footprint(sql, storage, person.id);
    const ghostBefore = await footprint(sql, storage, ghost);
    out(`  seeded in ${fmt((performance.now() - seedStarted) / 1000)} s: user ${describe(before)}; ghost (baseline) ${describe(ghostBefore)}`);
    if (before['media.uploads'] !== CONFIG.uploads || before['generation.contents'] !== CONFIG.contents || before['chat.messages'] !== CONFIG.messages || made.uploadKeys.length + 1 !== CONFIG.uploads) {
      throw new Error(`seeding did not give the configured sizes: ${describe(before)}`);
    }
    if (before['objects media/'] !== CONFIG.uploads || before['objects generation/'] !== CONFIG.contents) throw new Error(`seeding did not put every object: ${describe(before)}`);
    if (ghostMade.messages !== CONFIG.messages) throw new Error('ghost seeding is short of messages');

    await waitForQuietMachine(CONFIG.quietWaitSeconds, OTHER_BENCHES);
    const measured = await measureErasure(index, http, sql, storage, person, rows, groups);
    await sleep(500);
    const after = await footprint(sql, storage, person.id);
    const baseline = await plainDelete(sql, storage, ghost);
    const ghostAfter = await footprint(sql, storage, ghost);
    const repeat: Repeat = { ...measured, baselineMs: baseline.ms, baselineSqlMs: baseline.sqlMs, baselineObjectsMs: baseline.objectsMs, baselineListMs: baseline.listMs, baselineRows: baseline.rows, baselineObjects: baseline.objects, before, after };
    repeats.push(repeat);

    out(
      `  erasure: ${fmt(repeat.totalMs, 0)} ms from DELETE /v1/me sent to the poll seeing "completed" (DELETE answered in ${fmt(repeat.deleteMs, 0)} ms, erasure readable at ${fmt(repeat.openedMs, 0)} ms, completedAt ${fmt(repeat.completedMs, 0)} ms, ${repeat.polls} polls, receipt signed: ${repeat.signed ? 'yes' : 'NO'})`,
    );
    for (const receipt of repeat.receipts) out(`    ${pad(receipt.service, 11)} purgedAt ${fmt(receipt.purgedMs, 0).padStart(6)} ms, first seen ${fmt(receipt.seenMs, 0).padStart(6)} ms, counts ${JSON.stringify(receipt.counts)}`);
    out(`    CPU over the erasure (${fmt(repeat.cpu.wall, 2)} s): ${describeCpu(repeat.cpu, rows)}`);
    out(
      `  baseline: plain DELETEs of ${baseline.rows} rows (${fmt(baseline.sqlMs, 0)} ms) + one removeObjects of ${baseline.objects} objects (${fmt(baseline.objectsMs, 0)} ms) = ${fmt(baseline.ms, 0)} ms; erasure/baseline ${fmt(repeat.totalMs / baseline.ms, 1)}×; apart: listing the two prefixes ${fmt(baseline.listMs, 0)} ms`,
    );
    const leftovers = Object.entries(after).filter(([, n]) => n !== 0);
    out(`  check: user after the erasure ${leftovers.length === 0 ? 'zero rows and objects everywhere' : `LEFT: ${describe(Object.fromEntries(leftovers))}`}; ghost after the baseline ${describe(ghostAfter)}`);
    if (leftovers.length > 0) throw new Error(`the erasure left data behind: ${describe(Object.fromEntries(leftovers))}`);
    if (!repeat.signed) throw new Error('the completed erasure has no signed receipt');
  }

  const bystanderAfter = await footprint(sql, storage, bystander.id);
  const untouched = JSON.stringify(bystanderAfter) === JSON.stringify(bystanderBefore);
  out();
  out(`check: bystander ${untouched ? 'untouched' : 'CHANGED'}: ${describe(bystanderAfter)}`);

  out();
  out(`summary: ${CONFIG.uploads} uploads + ${CONFIG.contents} contents (with their jobs) + ${CONFIG.messages} chat messages, objects for every upload and content; ${cpus().length} cores`);
  const services = [...new Set(repeats.flatMap((repeat) => repeat.receipts.map((receipt) => receipt.service)))];
  out(`| repeat | total ms | ${services.map((service) => `${service} purgedAt`).join(' | ')} | completedAt | last receipt | baseline ms (SQL + objects) | ratio | other CPU % |`);
  out(`|---:|---:|${services.map(() => '---:').join('|')}|---:|---|---:|---:|---:|`);
  for (const repeat of repeats) {
    const cell = (service: string) => fmt(repeat.receipts.find((receipt) => receipt.service === service)?.purgedMs ?? Number.NaN, 0);
    out(
      `| ${repeat.index} | ${fmt(repeat.totalMs, 0)} | ${services.map(cell).join(' | ')} | ${fmt(repeat.completedMs, 0)} | ${repeat.receipts.at(-1)?.service ?? '–'} | ${fmt(repeat.baselineMs, 0)} (${fmt(repeat.baselineSqlMs, 0)} + ${fmt(repeat.baselineObjectsMs, 0)}) | ${fmt(repeat.totalMs / repeat.baselineMs, 1)} | ${fmt(repeat.cpu.percent[OTHER] ?? 0, 0)}${(repeat.cpu.percent[OTHER] ?? 0) > DISTURBED_PERCENT ? ' (disturbed)' : ''} |`,
    );
  }
  const medianOf = (pick: (repeat: Repeat) => number) => median(repeats.map(pick));
  out(
    `| median | ${fmt(medianOf((r) => r.totalMs), 0)} | ${services.map((service) => fmt(medianOf((r) => r.receipts.find((receipt) => receipt.service === service)?.purgedMs ?? Number.NaN), 0)).join(' | ')} | ${fmt(medianOf((r) => r.completedMs), 0)} | | ${fmt(medianOf((r) => r.baselineMs), 0)} | ${fmt(medianOf((r) => r.totalMs) / medianOf((r) => r.baselineMs), 1)} | |`,
  );
  const goal = medianOf((r) => r.totalMs);
  out(`goal < 5,000 ms: median ${fmt(goal, 0)} ms — ${goal < 5_000 ? 'met' : 'NOT met'}${cpus().length !== 2 ? ` (on ${cpus().length} cores, not 2)` : ''}`);

  out();
  out('CPU seconds over each erasure, by process');
  const labels = [...rows.map((row) => row.label), 'postgres', SELF, OTHER];
  out(`| process | ${repeats.map((repeat) => `repeat ${repeat.index}`).join(' | ')} |`);
  out(`|---|${repeats.map(() => '---:').join('|')}|`);
  for (const label of labels) out(`| ${label} | ${repeats.map((repeat) => `${fmt(repeat.cpu.seconds[label] ?? 0, 2)} s (${fmt(repeat.cpu.percent[label] ?? 0, 0)}%)`).join(' | ')} |`);
  out();
  out(`resident memory, MB (peak = highest ${CONFIG.sampleMs} ms VmRSS sample during each erasure; VmHWM = peak since start)`);
  out(`| process | ${repeats.map((repeat) => `peak ${repeat.index}`).join(' | ')} | VmHWM end |`);
  out(`|---|${repeats.map(() => '---:').join('|')}|---:|`);
  const mbOf = (bytes: number | undefined) => (bytes === undefined || !Number.isFinite(bytes) ? '–' : fmt(bytes / MB, 0));
  for (const row of rows) {
    let hwm = Number.NaN;
    try {
      hwm = rssOfProc(row.pid).hwm;
    } catch {
      // Gone.
    }
    out(`| ${row.label} | ${repeats.map((repeat) => mbOf(repeat.peak.get(row.pid))).join(' | ')} | ${mbOf(hwm)} |`);
  }
  const problems = system.output.filter((line) => /"level":("(warn|error|fatal)"|40|50|60)/.test(line));
  out(`service log lines at warn or above: ${problems.length}`);
  for (const line of problems.slice(-8)) out(`  ${line.slice(0, 600)}`);
  const restarts = (await system.status()).filter((instance) => instance.restarts > 0);
  if (restarts.length > 0) out(`RESTARTED: ${restarts.map((instance) => `${instance.instance} ×${instance.restarts}`).join(', ')}`);
  if (!untouched) throw new Error('the bystander lost data');
}

function describeCpu(usage: CpuUsage, rows: ProcessRow[]): string {
  const labels = [...rows.map((row) => row.label), 'postgres', SELF, OTHER];
  return labels
    .filter((label) => (usage.percent[label] ?? 0) >= 0.5)
    .map((label) => `${label.replace(' (this process)', '')} ${fmt(usage.seconds[label] ?? 0, 2)} s`)
    .join(', ');
}

await runBench(main, cleanups, CONFIG.totalTimeoutMs);
