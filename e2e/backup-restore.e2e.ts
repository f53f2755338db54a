import { spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemClock } from '@homiwork/clock';
import { ERASURE_DEADLINE_HOURS, GetUploadFile } from '@homiwork/contracts';
import { DataKeyDestroyedError, MasterKeyring, UserDataKeys } from '@homiwork/data-keys';
import { createServiceDataSource, Database } from '@homiwork/persistence';
import { freePort, SERVICE_MANIFEST, Supervisor } from '@homiwork/system-runner';
import { eventually, TEST_NATS_URL } from '@homiwork/testing';
import { byteaOf, copyRows } from './support/pg-dump.js';
import { buy, completedErasure, generate, objectsUnder, operator, PASSWORD, register, tablesMentioning, uploadText, type Person } from './support/privacy.js';
import { startTestSystem, type TestSystem } from './support/test-system.js';

// Issue 12: back up, erase a user, restore the backup, and the restore re-applies the
// erasure — nothing of that user comes back, everyone else's data does. The tools run
// compiled, as `npm run backup` / `npm run restore` run them, against the real
// PostgreSQL, NATS and S3 server of the test system.

const run = promisify(execFile);

let system: TestSystem;
let root: string;
/** The services after the restore (the test system's own supervisor is stopped for it). */
let restarted: Supervisor | undefined;

beforeAll(async () => {
  system = await startTestSystem({ env: { RATE_LIMIT_AUTH_PER_MINUTE: '10000', RATE_LIMIT_WRITE_PER_MINUTE: '10000', RATE_LIMIT_GENERATION_PER_MINUTE: '10000' } });
  root = await mkdtemp(join(tmpdir(), 'homiwork-backups-'));
}, 120_000);
afterAll(async () => {
  await restarted?.stop();
  await system?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

/** The backup's manifests are signed and checked with it (the restore refuses unsigned ones without --allow-unsigned). */
const SIGNING_KEY = 'the e2e backup signing key';

function toolEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    BACKUP_SIGNING_KEY: SIGNING_KEY,
    DATABASE_URL: system.database.url,
    NATS_URL: TEST_NATS_URL,
    EVENT_NAMESPACE: system.namespace,
    S3_URL: system.s3.url,
    S3_BUCKET: system.s3.config.bucket,
    ERASURE_SERVICES: system.env.ERASURE_SERVICES,
  };
}

/** Runs a compiled tool; `onLine` sees its output as it comes. */
function runTool(tool: 'backup' | 'restore', args: string[], onLine: (line: string) => void = () => undefined): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [`dist/tools/system/src/${tool}.js`, ...args], { env: toolEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const take = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    output += text;
    for (const line of text.split('\n')) if (line) onLine(line);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
}

interface Someone extends Person {
  uploadId: string;
  uploadText: string;
  contentIds: string[];
  chatText: string;
}

/** A user with something in every service: an upload, two contents (a text and an image file), a chat, a paid order. */
async function someoneWithDataEverywhere(label: string): Promise<Someone> {
  const person = await register(system, label);
  const text = `notes of ${label} kept in a backup`;
  const uploadId = await uploadText(system, person, text);
  const contentIds = [await generate(system, person, 'poem', `a poem about the ${label} sea`), await generate(system, person, 'image', 'a red circle')];
  const chatText = `help ${label} rhyme sea with something`;
  await system.api({ token: person.token }).assistants.send('poem-helper', chatText);
  await buy(system, person, 'energy');
  return { ...person, uploadId, uploadText: text, contentIds, chatText };
}


/** A custom-format dump as plain SQL (what pg_restore would apply). */
async function dumpText(file: string, options: { dataOnly?: boolean } = {}): Promise<string> {
  const { stdout } = await run('pg_restore', [...(options.dataOnly ? ['--data-only'] : []), '--file=-', file], { maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' });
  return stdout;
}

interface Manifest {
  id: string;
  takenAt: string;
  expiresAt: string;
  durationMs: number;
  schemas: Array<{ schema: string; file: string; bytes: number; sha256: string }>;
  dataKeys: { tables: string[]; expiresAt: string; prunedAt: string | null; dump: { file: string; bytes: number; sha256: string } | null };
  objects: { count: number; bytes: number; listing: { file: string; sha256: string } };
  events: { maxAgeDays: number };
}

/** Writes a manifest changed by the test signed as the backup signs one: HMAC-SHA256 of it without its signature. */
async function writeSignedManifest(path: string, manifest: Manifest & { signature?: string }): Promise<void> {
  const unsigned = JSON.stringify({ ...manifest, signature: undefined });
  await writeFile(path, JSON.stringify({ ...(JSON.parse(unsigned) as Manifest), signature: createHmac('sha256', SIGNING_KEY).update(unsigned).digest('hex') }));
}

const sha256 = async (path: string): Promise<string> => createHash('sha256').update(await readFile(path)).digest('hex');

describe('backup and restore (issue 12)', () => {
  let kept: Someone;
  let erased: Someone;
  let ops: Person;
  /** Asks for a restriction of processing after the backup. */
  let restricted: Person;
  /** An upload of `kept` that is deleted after the backup. */
  let laterDeletedUpload: string;
  let backupDir: string;
  let manifest: Manifest;

  it('backs up every schema, the data keys apart with a short expiry, and every object, with checksums', async () => {
    kept = await someoneWithDataEverywhere('kept');
    erased = await someoneWithDataEverywhere('erased');
    ops = await operator(system);
    restricted = await register(system, 'restricted');
    laterDeletedUpload = await uploadText(system, kept, 'an upload deleted after the backup');

    const backup = await runTool('backup', ['--out', root]);
    expect(backup.code, backup.output).toBe(0);
    const [name, ...others] = await readdir(root);
    expect(others).toEqual([]);
    backupDir = join(root, name!);
    manifest = JSON.parse(await readFile(join(backupDir, 'manifest.json'), 'utf8')) as Manifest;

    expect(manifest.schemas.map((entry) => entry.schema).sort()).toEqual(['billing', 'chat', 'generation', 'identity', 'media', 'retention']);
    for (const file of [...manifest.schemas, manifest.dataKeys.dump!, manifest.objects.listing]) expect(await sha256(join(backupDir, file.file)), file.file).toBe(file.sha256);
    expect(manifest.durationMs).toBeGreaterThan(0);
    // The keys live no longer than the erasure deadline; the rest until the events stream (30 days) would forget the erasures since.
    expect(manifest.dataKeys.tables).toEqual(expect.arrayContaining(['chat.user_data_keys', 'retention.user_data_keys']));
    expect(new Date(manifest.dataKeys.expiresAt).getTime() - new Date(manifest.takenAt).getTime()).toBeLessThanOrEqual(ERASURE_DEADLINE_HOURS * 3_600_000);
    expect(new Date(manifest.expiresAt).getTime() - new Date(manifest.takenAt).getTime()).toBe(manifest.events.maxAgeDays * 86_400_000 - ERASURE_DEADLINE_HOURS * 3_600_000);

    // The schema dumps hold the sealed messages but no key; the key dump holds both users' keys and nothing else.
    const chatDump = await dumpText(join(backupDir, 'schema-chat.dump'), { dataOnly: true });
    expect(copyRows(chatDump, 'chat.messages').filter((row) => row.user_id === erased.userId).length).toBeGreaterThan(0);
    expect(chatDump).not.toContain('COPY chat.user_data_keys');
    const keyDump = await dumpText(join(backupDir, manifest.dataKeys.dump!.file));
    expect(copyRows(keyDump, 'chat.user_data_keys').map((row) => row.user_id)).toEqual(expect.arrayContaining([kept.userId, erased.userId]));
    expect(keyDump).not.toContain('COPY chat.messages');

    // Objects: a listing with the stored bytes of each, the erased user's included.
    const listing = JSON.parse(await readFile(join(backupDir, 'objects.json'), 'utf8')) as Array<{ key: string; sha256: string; size: number }>;
    expect(listing.length).toBe(manifest.objects.count);
    expect(listing.some((object) => object.key.startsWith(`media/${erased.userId}/`))).toBe(true);
    expect(listing.some((object) => object.key.startsWith(`generation/${erased.userId}/`))).toBe(true);
    for (const object of listing) expect(await sha256(join(backupDir, 'objects', object.sha256)), object.key).toBe(object.sha256);
  }, 240_000);

  it('after the restore, the user erased since the backup is erased again everywhere, and everyone else is back', async () => {
    const { erasureId } = await system.api({ token: erased.token }).accounts.deleteMe(PASSWORD);
    const receipt = await completedErasure(system, erasureId);

    // Privacy state made after the backup, which the restore must not lose (review finding 2).
    const restriction = await system.api({ token: restricted.token }).privacy.request({ type: 'restriction' });
    const restrictedIn = async (schema: string) => (await system.sql<{ restricted: boolean }>(`SELECT restricted FROM "${schema}".processing_restrictions WHERE user_id = $1`, [restricted.userId]))[0]?.restricted;
    await eventually(async () => (await restrictedIn('generation')) === true && (await restrictedIn('chat')) === true, { what: 'restriction mirrored' });
    const hold = await system.api({ token: ops.token }).operators.placeHold(kept.userId, 'a hold placed after the backup');
    const [deletedUpload] = await system.sql<{ key: string }>('SELECT object_key AS key FROM media.uploads WHERE id = $1', [laterDeletedUpload]);
    // An object the backup does not have, of a user under no hold: moved into the quarantine, inside the user's prefix.
    const newerUpload = await uploadText(system, restricted, 'an upload made after the backup');
    const [newer] = await system.sql<{ key: string }>('SELECT object_key AS key FROM media.uploads WHERE id = $1', [newerUpload]);
    expect((await system.api({ token: kept.token }).raw({ method: 'DELETE', path: '/v1/uploads/:id', auth: 'user' }, { params: { id: laterDeletedUpload } })).status).toBe(204);

    // The services stop for the restore, and start again when it says so.
    await system.supervisor.stop();
    const gatewayPort = Number(new URL(system.gateways[0]!).port);
    const count = async (query: string, userId: string) => (await system.sql<{ n: number }>(query, [userId]))[0]!.n;
    let beforeServices: { account: number; erasedKeys: number; keptKeys: number; erasedObjects: string[] } | undefined;
    let starting: Promise<void> | undefined;
    const restore = await runTool('restore', ['--from', root, '--wait-minutes', '3'], (line) => {
      if (starting || !line.includes('start the services now')) return;
      starting = (async () => {
        // The restored database as the services will find it: the account is back (the backup predates its erasure),
        // but its data keys and objects were never put back.
        beforeServices = {
          account: await count('SELECT count(*)::int AS n FROM identity.users WHERE id = $1', erased.userId),
          erasedKeys: await count('SELECT count(*)::int AS n FROM chat.user_data_keys WHERE user_id = $1', erased.userId),
          keptKeys: await count('SELECT count(*)::int AS n FROM chat.user_data_keys WHERE user_id = $1', kept.userId),
          erasedObjects: [...(await objectsUnder(system, `media/${erased.userId}/`)), ...(await objectsUnder(system, `generation/${erased.userId}/`))],
        };
        restarted = new Supervisor({
          manifest: SERVICE_MANIFEST,
          env: system.env,
          ports: async (entry) => ({ opsPort: await freePort(), ...(entry.publicPort !== undefined ? { publicPort: gatewayPort } : {}) }),
          onLine: (_instance, output) => system.logs.push(output),
          say: (message) => system.logs.push(`[supervisor] ${message}`),
        });
        await restarted.start();
      })();
    });
    await starting;
    expect(beforeServices).toEqual({ account: 1, erasedKeys: 0, keptKeys: 1, erasedObjects: [] });
    expect(restore.code, restore.output).toBe(0);
    expect(restore.output).toContain('1 of 1 erasure(s) confirmed by every service');
    // Nothing was left behind for a rerun; the database records which journal it was restored with.
    await expect(stat(join(backupDir, 'reapply.json'))).rejects.toThrow();
    expect(await system.sql('SELECT 1 FROM backup_restore.applied_journals WHERE backup_id = $1', [manifest.id])).toHaveLength(1);
    expect(restore.output).toContain('1 newer object(s) the backup does not have were moved');
    expect(await objectsUnder(system, newer!.key)).toEqual([]);
    expect(await objectsUnder(system, `media/${restricted.userId}/restore-quarantine/${manifest.id}/`)).toEqual([`media/${restricted.userId}/restore-quarantine/${manifest.id}/${newer!.key.split('/').slice(2).join('/')}`]);

    // Nothing of the erased user: no row in any table (tombstones excepted: an opaque id kept by design), no object.
    for (const needle of [erased.userId, erased.email, erased.username]) {
      expect(await tablesMentioning(system, needle, { except: ['tombstones'] }), needle).toEqual([]);
    }
    for (const schema of ['identity', 'media', 'generation', 'billing', 'chat', 'retention']) {
      const [row] = await system.sql<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".tombstones WHERE user_id = $1`, [erased.userId]);
      expect(row?.n, `${schema} tombstone`).toBe(1);
    }
    for (const prefix of [`media/${erased.userId}/`, `generation/${erased.userId}/`, `retention/${erased.userId}/`]) {
      expect(await objectsUnder(system, prefix), prefix).toEqual([]);
    }
    expect((await system.api().raw({ method: 'POST', path: '/v1/auth/login', auth: 'public' }, { body: { login: erased.email, password: PASSWORD } })).status).toBe(401);
    // The signed receipt is the one issued before the restore (retention's record was carried over).
    const after = await completedErasure(system, erasureId);
    expect(after.jws).toBe(receipt.jws);

    // The restriction, the hold and the upload deletion made after the backup hold after the restore:
    // retention's rows carried over, the mirrors of generation and chat told again, the upload gone with its object.
    expect((await system.sql<{ status: string }>('SELECT status FROM retention.privacy_requests WHERE id = $1', [restriction.id]))[0]?.status).toBe('in_force');
    await eventually(async () => (await restrictedIn('generation')) === true && (await restrictedIn('chat')) === true, { what: 'restriction mirrored after the restore' });
    expect((await system.sql('SELECT 1 FROM retention.legal_holds WHERE id = $1 AND released_at IS NULL', [hold.id])).length).toBe(1);
    expect(await system.sql('SELECT 1 FROM media.uploads WHERE id = $1', [laterDeletedUpload])).toEqual([]);
    expect(await objectsUnder(system, deletedUpload!.key)).toEqual([]);

    // The backup's sealed messages of the erased user stay sealed: their key is in no table.
    const chatDump = await dumpText(join(backupDir, 'schema-chat.dump'), { dataOnly: true });
    const dataSource = await createServiceDataSource({ databaseUrl: system.database.url, schema: 'chat', migrations: [], poolSize: 1, applicationName: 'backup-e2e-reader' }).initialize();
    try {
      const keys = new UserDataKeys(new Database(dataSource), MasterKeyring.fromConfig({ DATA_KEYS_MASTER_KEYS: system.env.DATA_KEYS_MASTER_KEYS! }), new SystemClock());
      const sealedOf = (userId: string) => copyRows(chatDump, 'chat.messages').filter((row) => row.user_id === userId && row.role === 'user').map((row) => byteaOf(row.sealed));
      await expect(keys.openMany(erased.userId, sealedOf(erased.userId))).rejects.toBeInstanceOf(DataKeyDestroyedError);
      // The control: the other user's key came back with the restore, so theirs open.
      expect(await keys.openMany(kept.userId, sealedOf(kept.userId))).toContain(kept.chatText);
    } finally {
      await dataSource.destroy();
    }

    // The other user: signs in, and finds the upload, the contents, the conversation and the purchase.
    const { accessToken } = await system.api().accounts.login({ login: kept.email, password: PASSWORD });
    const api = system.api({ token: accessToken });
    expect((await api.accounts.me()).email).toBe(kept.email);
    const upload = await api.download(GetUploadFile, { params: { id: kept.uploadId } });
    expect(Buffer.from(upload.bytes).toString('utf8')).toContain(kept.uploadText);
    for (const contentId of kept.contentIds) expect((await api.contents.file(contentId)).bytes.length).toBeGreaterThan(0);
    expect((await api.assistants.messages('poem-helper')).items.map((message) => message.text)).toContain(kept.chatText);
    const [orders] = await system.sql<{ n: number }>("SELECT count(*)::int AS n FROM billing.orders WHERE user_id = $1 AND status = 'paid'", [kept.userId]);
    expect(orders?.n).toBe(1);
  }, 300_000);

  it('refuses, changing nothing, while an erasure is held or after a user deleted content since the backup', async () => {
    const held = await register(system, 'held');
    const login = async (person: Person) => (await system.api().accounts.login({ login: person.email, password: PASSWORD })).accessToken;
    const asOps = system.api({ token: await login(ops) });
    await asOps.operators.placeHold(held.userId, 'a hold that keeps an erasure open');
    const { erasureId } = await system.api({ token: held.token }).accounts.deleteMe(PASSWORD);
    await eventually(async () => (await asOps.operators.erasures()).items.find((item) => item.id === erasureId)?.status === 'held', { what: 'erasure held' });
    await system.api({ token: await login(kept) }).contents.delete(kept.contentIds[0]!);
    await restarted!.stop();
    restarted = undefined;

    const users = async () => (await system.sql<{ n: number }>('SELECT count(*)::int AS n FROM identity.users'))[0]!.n;
    const before = await users();
    // A journal planted beside the backup (none of the held user's erasure in it) is not trusted: the live state is read.
    const planted = { backupId: manifest.id, nonce: 'planted', erasures: [], erasedUserIds: [], records: { erasures: [], receipts: [] }, live: { legalHolds: [], privacyRequests: [], requestHistory: [], restrictions: [], uploadIds: [] } };
    await writeFile(join(backupDir, 'reapply.json'), JSON.stringify({ journal: planted }));
    const refused = await runTool('restore', ['--from', root, '--wait-minutes', '1']);
    expect(refused.code, refused.output).toBe(1);
    expect(refused.output).toContain('a journal not signed with BACKUP_SIGNING_KEY: discarding');
    expect(refused.output).toContain('nothing was changed');
    expect(refused.output).toContain('1 erasure(s) are still open or held');
    expect(refused.output).toContain('1 account(s) have an erasure requested that is not completed: start the services and let the erasure complete');
    expect(refused.output).toContain('1 content deletion(s)');
    // The held account is still there (the backup predates it), and nothing was left for a rerun.
    expect(await users()).toBe(before);
    expect((await system.sql('SELECT 1 FROM identity.users WHERE id = $1', [held.userId])).length).toBe(1);
    await expect(stat(join(backupDir, 'reapply.json'))).rejects.toThrow();
  }, 120_000);

  it('prunes the key dump at its expiry, and the whole backup at its own', async () => {
    const manifestPath = join(backupDir, 'manifest.json');
    const past = new Date(Date.now() - 1_000).toISOString();
    await writeSignedManifest(manifestPath, { ...(JSON.parse(await readFile(manifestPath, 'utf8')) as Manifest), dataKeys: { ...manifest.dataKeys, expiresAt: past } });
    const keysPruned = await runTool('backup', ['--out', root, '--prune-only']);
    expect(keysPruned.code, keysPruned.output).toBe(0);
    await expect(stat(join(backupDir, manifest.dataKeys.dump!.file))).rejects.toThrow();
    const afterKeys = JSON.parse(await readFile(manifestPath, 'utf8')) as Manifest;
    expect(afterKeys.dataKeys.dump).toBeNull();
    expect(afterKeys.dataKeys.prunedAt).not.toBeNull();
    expect(await stat(join(backupDir, manifest.schemas[0]!.file))).toBeTruthy();

    await writeSignedManifest(manifestPath, { ...afterKeys, expiresAt: past });
    const allPruned = await runTool('backup', ['--out', root, '--prune-only']);
    expect(allPruned.code, allPruned.output).toBe(0);
    expect(await readdir(root)).toEqual([]);
  });
});
