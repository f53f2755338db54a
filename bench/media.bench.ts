/**
 * Media uploads benchmark, from outside, against the system as `npm start` runs it
 * (issues 4 and 7): the compiled supervisor with its children (migrate; dev infrastructure:
 * embedded S3 server and mail sink; its own nats-server with one user per service) and every
 * service of the manifest with the manifest's run-time settings, started by
 * startSystemProcess on free ports, on the machine's real PostgreSQL.
 *
 * For each in-flight count (2 and 4 by default):
 *   1. bare — ImageTransformer.transform (the sharp transformation media runs) of one
 *      realistic 3000×2000 JPEG, in this process, at the same in-flight count, right before
 *      the upload line (this VM's speed drifts by ±15 % over minutes): images/s, p50/p99.
 *   2. whole path — authenticated POST /v1/uploads (multipart) through the gateway → media
 *      (stream to temp → sniff → sharp → dHash moderation → S3 → PostgreSQL row + outbox →
 *      JetStream), closed loop: images/s, p50/p99, every answer must be 201; the ratio
 *      whole path / bare is the goal (≥ 0.7).
 * Resident memory of every process of the system (VmRSS from /proc/<pid>/status): idle after
 * start (median of 2 s), then sampled every BENCH_SAMPLE_MS (100 ms) during each upload line
 * (peak), and VmHWM (peak since start) at the end; printed as one table. Goals: every
 * service ≤ 180 MB idle, media ≤ 300 MB at its peak.
 *
 * Not part of `npm test`. Run from the repository root with the repo's Node 24 (it builds
 * what changed first, as npm start does):
 *   npm run bench:media
 * Knobs are environment variables (see CONFIG); BENCH_SYSTEM_ENV adds settings to the whole
 * system's environment (e.g. `MALLOC_ARENA_MAX=8` to compare allocator settings; a name set
 * there overrides the manifest's default for every service). A line during which other
 * processes used more than 10 % of one core is repeated (BENCH_RETRIES times at most); before
 * each, the bench waits for no events/identity bench and a nearly idle machine. Everything it
 * creates (a database, the run directory with the S3 server's and nats-server's files,
 * temporary files) is removed at the end, also on failure.
 */
import 'reflect-metadata';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import sharp from 'sharp';
import { ApiClient } from '@homiwork/api-client';
import { patternJpeg } from '@homiwork/media-fixtures';
import { SERVICE_MANIFEST, startSystemProcess, type SystemProcess } from '@homiwork/system-runner';
import { databaseUrl, randomId } from '@homiwork/testing';
import { ImageTransformer } from '../services/media/src/processing/image-transformer.js';
import { type Cleanup, createBenchDatabase, intEnv, intListEnv, out, pidsNamed, runBench, sleep } from './support/bench-kit.js';
import { cpuWindow, DISTURBED_PERCENT, OTHER, waitForQuietMachine, type CpuGroups } from './support/cpu.js';
import { closedLoop, type Job, type LoopResult } from './support/loops.js';
import { rssOfProc, sampleRss } from './support/memory.js';
import { buildSystem, processesOf, type ProcessRow } from './support/system.js';
import { fmt, MB, pad } from './support/stats.js';

const CONFIG = {
  /** In-flight uploads (and bare transformations) of the measured lines, comma-separated. */
  concurrency: intListEnv('BENCH_CONCURRENCY', '2,4', 1, 64),
  /** Images per measured line (bare and upload), and discarded warm-ups before each. */
  images: intEnv('BENCH_IMAGES', 100, 4, 10_000),
  warmup: intEnv('BENCH_WARMUP_IMAGES', 8, 0, 1_000),
  /** Resident-memory sampling interval. */
  sampleMs: intEnv('BENCH_SAMPLE_MS', 100, 10, 10_000),
  /** Extra environment of the whole system, `NAME=value` pairs separated by spaces, for experiments. */
  systemEnv: parsePairs(process.env.BENCH_SYSTEM_ENV ?? ''),
  /** A line during which other processes used more than 10 % of one core is repeated, at most this often. */
  retries: intEnv('BENCH_RETRIES', 3, 0, 20),
  /** Before each line: wait up to this long for no other bench and a nearly idle machine. */
  quietWaitSeconds: intEnv('BENCH_QUIET_WAIT_SECONDS', 1_200, 0, 3_600),
  totalTimeoutMs: intEnv('BENCH_TIMEOUT_MS', 2_400_000, 60_000, 7_200_000),
};
/** The gateway's configuration schema caps every per-minute limit at 1,000,000. */
const MAX_RATE_LIMIT = '1000000';
const GOAL_RATIO = 0.7;
const GOAL_IDLE_MB = 180;
const GOAL_MEDIA_PEAK_MB = 300;
const IMAGE = { width: 3000, height: 2000, noise: 16, quality: 88 };
const RUN_ID = `bench${randomId(3)}`;
const PASSWORD = 'a long and uncommon bench passphrase';

const cleanups: Cleanup[] = [];

function parsePairs(text: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const pair of text.split(/\s+/).filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`BENCH_SYSTEM_ENV: bad pair ${pair}`);
    pairs[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return pairs;
}

const mbOf = (bytes: number | undefined): string => (bytes === undefined || !Number.isFinite(bytes) ? '–' : fmt(bytes / MB, 0));

// ---------------------------------------------------------------------------------------
// The test image and the request body
// ---------------------------------------------------------------------------------------

/**
 * A 3000×2000 "photo": the fixtures' smooth pattern with deterministic luminance and some
 * chroma noise over it, so it is not trivially compressible (≈1.4 MB at quality 88). Decoding
 * and re-encoding it costs what a phone picture of that size does.
 */
async function realisticJpeg(dir: string): Promise<string> {
  const base = await patternJpeg(dir, 'pattern.jpg', 'a', { width: IMAGE.width, height: IMAGE.height });
  const { data, info } = await sharp(base).raw().toBuffer({ resolveWithObject: true });
  let state = 0x2545f491;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4_294_967_296;
  };
  for (let i = 0; i < data.length; i += info.channels) {
    const luminance = (random() + random() - 1) * IMAGE.noise;
    for (let c = 0; c < 3; c++) data[i + c] = Math.max(0, Math.min(255, Math.round(data[i + c]! + luminance + (random() - 0.5) * IMAGE.noise * 0.3)));
  }
  const path = join(dir, 'photo.jpg');
  await sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } }).jpeg({ quality: IMAGE.quality }).toFile(path);
  return path;
}

/** The multipart body a browser sends for one file in the field `file`, built once. */
function multipartBody(bytes: Buffer, filename: string, type: string): { body: Buffer; contentType: string } {
  const boundary = `----benchboundary${randomId(8)}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { body: Buffer.concat([head, bytes, tail]), contentType: `multipart/form-data; boundary=${boundary}` };
}

// ---------------------------------------------------------------------------------------
// The system and its processes
// ---------------------------------------------------------------------------------------

async function startSystem(database: string, runDir: string, mediaTmp: string): Promise<SystemProcess> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    // Production refuses the development payment processor; this bench buys nothing.
    PAYMENT_PROCESSOR: 'webhook',
    PAYMENT_PROCESSOR_URL: 'http://127.0.0.1:9/unused',
    DATABASE_URL: databaseUrl(database),
    // No NATS_URL: the system starts its own nats-server with one user per service, as npm start does.
    EVENT_NAMESPACE: RUN_ID,
    RUN_DIR: runDir,
    // Its own: the default (<tmpdir>/homiwork-media) is shared with every other media on the machine.
    MEDIA_TMP_DIR: mediaTmp,
    RATE_LIMIT_AUTH_PER_MINUTE: MAX_RATE_LIMIT,
    RATE_LIMIT_READ_PER_MINUTE: MAX_RATE_LIMIT,
    RATE_LIMIT_WRITE_PER_MINUTE: MAX_RATE_LIMIT,
    ...CONFIG.systemEnv,
  };
  const system = await startSystemProcess(env, { timeoutMs: 120_000 });
  cleanups.push({ what: 'stopping the system', run: () => system.stop() });
  return system;
}

/** Registers `count` users; returns a function that logs them all in (fresh access tokens). */
async function createUsers(api: ApiClient, count: number): Promise<() => Promise<string[]>> {
  const logins: string[] = [];
  for (let index = 0; index < count; index++) {
    const tag = `${RUN_ID}${index}`;
    await api.accounts.register({ email: `bench.${tag}@example.com`, username: `bench_${tag}`, password: PASSWORD, ageConfirmed: true });
    logins.push(`bench_${tag}`);
  }
  return async () => {
    const tokens: string[] = [];
    for (const login of logins) tokens.push((await api.accounts.login({ login, password: PASSWORD })).accessToken);
    return tokens;
  };
}

// ---------------------------------------------------------------------------------------
// One line: the bare baseline, then the uploads at the same in-flight count
// ---------------------------------------------------------------------------------------

interface Line {
  concurrency: number;
  bare: LoopResult;
  uploads: LoopResult;
  /** Peak VmRSS per pid during the upload loop. */
  peak: Map<number, number>;
  samples: number;
  /** % of one core used by processes outside the system and this bench during the uploads. */
  other: number;
}

async function measureLine(concurrency: number, bareJob: Job, upload: Job, login: () => Promise<string[]>, setTokens: (tokens: string[]) => void, rows: ProcessRow[], cpuGroups: CpuGroups): Promise<Line> {
  for (let attempt = 0; ; attempt++) {
    await waitForQuietMachine(CONFIG.quietWaitSeconds, ['events', 'identity']);
    setTokens(await login()); // tokens expire; waiting for a quiet machine can take long
    if (CONFIG.warmup > 0) await closedLoop(concurrency, { jobs: CONFIG.warmup }, bareJob);
    const bare = await closedLoop(concurrency, { jobs: CONFIG.images }, bareJob);
    if (CONFIG.warmup > 0) {
      const warm = await closedLoop(concurrency, { jobs: CONFIG.warmup }, upload);
      if (warm.done !== CONFIG.warmup) throw new Error(`warm-up uploads failed: ${JSON.stringify(warm.outcomes)}; first: ${warm.firstFailure}`);
    }
    await sleep(1_000);
    const window = cpuWindow(cpuGroups);
    const sampler = sampleRss(
      rows.map((row) => row.pid),
      CONFIG.sampleMs,
    );
    const uploads = await closedLoop(concurrency, { jobs: CONFIG.images }, upload);
    const { peak, samples } = await sampler.stop();
    const other = window.stop().percent[OTHER] ?? 0;
    const line: Line = { concurrency, bare, uploads, peak, samples, other };
    const answers = Object.entries(uploads.outcomes)
      .map(([status, count]) => `${status}×${count}`)
      .join(', ');
    out(
      `  c=${concurrency}: bare ${fmt(bare.perSecond, 2)} images/s (p50 ${fmt(bare.p50, 0)} / p99 ${fmt(bare.p99, 0)} ms); whole path ${fmt(uploads.perSecond, 2)} images/s (p50 ${fmt(uploads.p50, 0)} / p99 ${fmt(uploads.p99, 0)} ms), answers ${answers}; ratio ${fmt(uploads.perSecond / bare.perSecond, 2)}; others used ${fmt(other, 0)}% of one core`,
    );
    if (uploads.firstFailure) out(`        first failure: ${uploads.firstFailure}`);
    if (other <= DISTURBED_PERCENT || attempt >= CONFIG.retries) return line;
    out(`        measuring c=${concurrency} again (${attempt + 1}/${CONFIG.retries}): other processes used ${fmt(other, 0)}% of one core`);
  }
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  out(`media bench ${RUN_ID} — Node ${process.version}, sharp ${sharp.versions.sharp}/libvips ${sharp.versions.vips}, ${cpus().length} cores; load generator on the same cores`);
  out(`config: ${JSON.stringify(CONFIG)}`);
  out(`manifest run-time settings: ${SERVICE_MANIFEST.map((entry) => `${entry.name} ${JSON.stringify(entry.env ?? {})}`).join('; ')}`);
  const workDir = await mkdtemp(join(tmpdir(), 'media-bench-'));
  cleanups.push({ what: `removing ${workDir}`, run: () => rm(workDir, { recursive: true, force: true }) });
  const photo = await realisticJpeg(workDir);
  const jpeg = await readFile(photo);
  out(`test image: ${IMAGE.width}×${IMAGE.height} JPEG q${IMAGE.quality}, ${fmt(jpeg.length / MB, 2)} MB (pattern + noise, generated once)`);

  const database = `${RUN_ID}_media`;
  await createBenchDatabase(database, cleanups);
  const runDir = join(workDir, 'run');
  buildSystem();
  const startedAt = performance.now();
  const mediaTmp = join(workDir, 'media-tmp');
  const system = await startSystem(database, runDir, mediaTmp);
  const instances = await system.status();
  const rows = processesOf(system, instances);
  out(`system up in ${fmt((performance.now() - startedAt) / 1000)} s as npm start runs it (NODE_ENV=production, LOG_LEVEL=warn, every gateway rate limit ${MAX_RATE_LIMIT}/min)`);
  out(`processes: ${rows.map((row) => `${row.label} ${row.pid}`).join(', ')}`);
  if (Object.keys(CONFIG.systemEnv).length > 0) out(`the system runs with extra environment ${JSON.stringify(CONFIG.systemEnv)}`);

  const api = new ApiClient({ baseUrl: system.apiUrl });
  const login = await createUsers(api, Math.max(...CONFIG.concurrency));

  // Idle: after start and registration, before any upload.
  await sleep(5_000);
  const idleSampler = sampleRss(
    rows.map((row) => row.pid),
    CONFIG.sampleMs,
  );
  await sleep(2_000);
  const idle = (await idleSampler.stop()).median;
  const hwmAtIdle = new Map(rows.map((row) => [row.pid, rssOfProc(row.pid).hwm]));
  out();

  const images = new ImageTransformer();
  const outputs = Array.from({ length: 64 }, (_unused, worker) => join(workDir, `bare-${worker}.webp`));
  const bareJob: Job = async (_index, worker) => {
    await images.transform(photo, outputs[worker]!);
    return { ok: true, outcome: 'ok' };
  };
  const { body, contentType } = multipartBody(jpeg, 'photo.jpg', 'image/jpeg');
  let tokens: string[] = [];
  let uploaded = 0;
  const upload: Job = async (_index, worker) => {
    const response = await fetch(`${system.apiUrl}/v1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${tokens[worker % tokens.length]!}`, 'content-type': contentType }, body });
    const text = await response.text();
    if (response.status === 201) uploaded++;
    return { ok: response.status === 201, outcome: String(response.status), detail: text };
  };
  const cpuGroups: CpuGroups = Object.fromEntries(rows.map((row) => [row.label, () => [row.pid]]));
  cpuGroups.postgres = () => pidsNamed('postgres');
  cpuGroups['other nats-server'] = () => pidsNamed('nats-server').filter((pid) => !rows.some((row) => row.pid === pid));
  out(`each line: bare ImageTransformer.transform in this process, then POST /v1/uploads through the gateway (multipart, ${fmt(body.length / MB, 2)} MB), closed loops of ${CONFIG.warmup} warm-ups then ${CONFIG.images} images at the same in-flight count`);
  const lines: Line[] = [];
  for (const concurrency of CONFIG.concurrency) lines.push(await measureLine(concurrency, bareJob, upload, login, (next) => (tokens = next), rows, cpuGroups));
  const hwm = new Map(rows.map((row) => [row.pid, rssOfProc(row.pid).hwm]));
  out();

  // Every 201 is a row: check the count.
  const client = new pg.Client({ connectionString: databaseUrl(database) });
  await client.connect();
  const stored = Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM media.uploads')).rows[0]!.n);
  await client.end();
  const leftInTmp = (await readdir(mediaTmp).catch(() => [])).length;
  out(`check: ${uploaded} uploads answered 201 (warm-ups included); media.uploads rows ${stored}${stored === uploaded ? '' : ' — MISMATCH'}; entries left in MEDIA_TMP_DIR ${leftInTmp}`);
  out();

  out(`throughput (images/s, p50/p99 ms); ratio = whole path / bare at the same in-flight count, goal ≥ ${GOAL_RATIO}`);
  out(`  ${pad('in flight', 10)} ${pad('bare', 26)} ${pad('whole path', 26)} ratio`);
  for (const line of lines) {
    const ratio = line.uploads.perSecond / line.bare.perSecond;
    const disturbed = line.other > DISTURBED_PERCENT ? `  (others used ${fmt(line.other, 0)}% of one core: not comparable)` : '';
    out(
      `  ${pad(String(line.concurrency), 10)} ${pad(`${fmt(line.bare.perSecond, 2)} (${fmt(line.bare.p50, 0)}/${fmt(line.bare.p99, 0)})`, 26)} ${pad(`${fmt(line.uploads.perSecond, 2)} (${fmt(line.uploads.p50, 0)}/${fmt(line.uploads.p99, 0)})`, 26)} ${fmt(ratio, 2)} ${ratio >= GOAL_RATIO ? 'met' : 'MISSED'}${disturbed}`,
    );
  }
  out();
  out(`resident memory, MB (VmRSS; idle = median over 2 s after start; peak = highest ${CONFIG.sampleMs} ms sample during the line; VmHWM = peak since start, startup included)`);
  const heads = ['idle', ...lines.map((line) => `peak c=${line.concurrency}`), 'VmHWM idle', 'VmHWM end'];
  out(`  ${pad('process', 40)} ${heads.map((head) => head.padStart(11)).join('')}`);
  for (const row of rows) {
    const cells = [idle.get(row.pid), ...lines.map((line) => line.peak.get(row.pid)), hwmAtIdle.get(row.pid), hwm.get(row.pid)];
    out(`  ${pad(`${row.label} (${row.pid})`, 40)} ${cells.map((cell) => mbOf(cell).padStart(11)).join('')}`);
  }
  out(`  samples per line: ${lines.map((line) => line.samples).join(', ')}`);
  const services = rows.filter((row) => row.service);
  const overIdle = services.filter((row) => (idle.get(row.pid) ?? Infinity) > GOAL_IDLE_MB * MB);
  out(`goal every service ≤ ${GOAL_IDLE_MB} MB idle: ${overIdle.length === 0 ? 'met' : `MISSED by ${overIdle.map((row) => row.label).join(', ')}`}`);
  const media = rows.find((row) => row.service === 'media')!;
  const mediaPeak = Math.max(...lines.map((line) => line.peak.get(media.pid) ?? Infinity));
  out(`goal media ≤ ${GOAL_MEDIA_PEAK_MB} MB at its peak during the uploads: ${mediaPeak <= GOAL_MEDIA_PEAK_MB * MB ? 'met' : 'MISSED'} (${mbOf(mediaPeak)} MB)`);
  // pino writes the level's label; the services' logs are scrubbed of personal data.
  const problems = system.output.filter((line) => /"level":"(warn|error|fatal)"/.test(line));
  out(`service log lines at warn or above: ${problems.length}`);
  for (const line of problems.slice(-5)) out(`  ${line.slice(0, 600)}`);
}

await runBench(main, cleanups, CONFIG.totalTimeoutMs);
