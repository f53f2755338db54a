import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { defineRoute, eventSubject, UserDeletedV1 } from '@homiwork/contracts';
import { EVENT_TYPE_HEADER, OCCURRED_AT_HEADER, RpcClient } from '@homiwork/messaging';
import { freePort } from '@homiwork/system-runner';
import { createTestDatabase, createTestNamespace, eventually, TEST_NATS_URL, type TestDatabase } from '@homiwork/testing';
import pg from 'pg';
import { z } from 'zod';

/**
 * The service generator, used as a developer would (`nx g @homiwork/generators:service`)
 * in a throw-away copy of the workspace: the new service type-checks, builds, migrates its
 * own schema, starts, reports ready and answers its first route.
 */
const repo = process.cwd();
let workspace: string;
let database: TestDatabase;
let nc: NatsConnection | undefined;
let service: ReturnType<typeof spawn> | undefined;
const NAME = 'sample';

function run(args: string[], cwd = workspace): string {
  const result = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' } });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

beforeAll(() => {
  workspace = mkdtempSync(join(tmpdir(), 'homiwork-generator-'));
  for (const item of ['package.json', 'nx.json', 'tsconfig.base.json', 'libs', 'tools/build', 'tools/generators']) cpSync(join(repo, item), join(workspace, item), { recursive: true });
  symlinkSync(join(repo, 'node_modules'), join(workspace, 'node_modules'));
  run(['node_modules/nx/dist/bin/nx.js', 'g', '@homiwork/generators:service', NAME, '--no-interactive']);
}, 120_000);

afterAll(async () => {
  service?.kill('SIGKILL');
  await nc?.close();
  await database?.drop();
  rmSync(workspace, { recursive: true, force: true });
});

describe('nx g @homiwork/generators:service', () => {
  it('writes the service folder and its one manifest entry, its name and its RPC contract', () => {
    const manifest = readFileSync(join(workspace, 'libs/system-runner/src/manifest.ts'), 'utf8');
    expect(manifest).toMatch(new RegExp(`\\{ name: '${NAME}', root: 'services/${NAME}', opsPort: \\d+, needs: \\['postgres', 'nats'\\] \\},\\n  // The gateway is last`));
    expect(readFileSync(join(workspace, 'libs/contracts/src/services.ts'), 'utf8')).toMatch(new RegExp(`SERVICE_NAMES = \\[[^\\]]*'${NAME}'`));
    expect(readFileSync(join(workspace, 'libs/contracts/src/index.ts'), 'utf8')).toContain(`export * as SampleRpc from './rpc/${NAME}.js';`);
    expect(readFileSync(join(workspace, 'libs/contracts/src/consumers.ts'), 'utf8')).toContain(`export const SampleConsumers = {\n  userDeleted: defineConsumer({ service: '${NAME}', event: UserDeletedV1 }),\n};`);
    for (const file of ['project.json', 'src/main.ts', 'src/config.ts', 'src/service.ts', `src/${NAME}.module.ts`, `src/${NAME}.handlers.ts`, 'src/usecases/get-status/get-status.usecase.spec.ts', 'src/usecases/purge-user/purge-user.usecase.ts']) {
      expect(readFileSync(join(workspace, 'services', NAME, file), 'utf8').length, file).toBeGreaterThan(0);
    }
  });

  it('refuses a second service of the same name, and a name that is not one', () => {
    expect(() => run(['node_modules/nx/dist/bin/nx.js', 'g', '@homiwork/generators:service', NAME, '--no-interactive'])).toThrow(/exists already/);
    expect(() => run(['node_modules/nx/dist/bin/nx.js', 'g', '@homiwork/generators:service', 'Bad-Name', '--no-interactive'])).toThrow();
  });

  it('type-checks under the workspace’s strict settings', () => {
    writeFileSync(join(workspace, 'tsconfig.sample.json'), JSON.stringify({ extends: './tsconfig.base.json', compilerOptions: { noEmit: true }, include: [`services/${NAME}/**/*.ts`] }));
    run(['node_modules/typescript/bin/tsc', '-p', 'tsconfig.sample.json']);
  }, 120_000);

  it('builds, migrates its schema, starts, is ready and answers its first route', async () => {
    run(['node_modules/nx/dist/bin/nx.js', 'run', `${NAME}:build`, '--outputStyle=static']);
    database = await createTestDatabase();
    const namespace = createTestNamespace();
    const opsPort = await freePort();
    const output: string[] = [];
    service = spawn(process.execPath, [`dist/services/${NAME}/src/main.js`], {
      cwd: workspace,
      env: { PATH: process.env.PATH, NODE_ENV: 'test', DATABASE_URL: database.url, NATS_URL: TEST_NATS_URL, EVENT_NAMESPACE: namespace, OPS_PORT: String(opsPort), EVENT_STREAM_MAX_BYTES: String(64 * 1024 * 1024) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    service.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    service.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    await eventually(async () => (await fetch(`http://127.0.0.1:${opsPort}/health/ready`).catch(() => undefined))?.ok === true, { timeoutMs: 30_000, what: `${NAME} ready` }).catch((error: unknown) => {
      throw new Error(`${String(error)}; its output:\n${output.join('')}`);
    });

    const userId = randomUUID();
    const sql = new pg.Client({ connectionString: database.url });
    await sql.connect();
    await sql.query(`INSERT INTO ${NAME}.records (id, user_id, created_at) VALUES ($1, $2, now()), ($3, $2, now()), ($4, $5, now())`, [randomUUID(), userId, randomUUID(), randomUUID(), randomUUID()]);
    await sql.end();
    nc = await connect({ servers: TEST_NATS_URL });
    // The route as the generated contract defines it (that contract lives only in the throw-away copy).
    const route = defineRoute({ service: 'media', method: 'status.get', request: z.strictObject({}), response: z.strictObject({ records: z.number() }) });
    const status = await new RpcClient(nc, namespace).call({ ...route, service: NAME as 'media' }, {}, { requestId: 'generator-test', userId });
    expect(status).toEqual({ records: 2 });

    // The skeleton purges on UserDeleted and keeps the tombstone that refuses later writes.
    const h = headers();
    h.set(EVENT_TYPE_HEADER, UserDeletedV1.type);
    h.set(OCCURRED_AT_HEADER, new Date().toISOString());
    const payload = { userId, erasureId: randomUUID(), reason: 'user_request', deletedAt: new Date().toISOString() };
    await jetstream(nc).publish(eventSubject(namespace, UserDeletedV1), JSON.stringify(payload), { msgID: randomUUID(), headers: h });
    const check = new pg.Client({ connectionString: database.url });
    await check.connect();
    try {
      await eventually(async () => (await check.query(`SELECT 1 FROM ${NAME}.tombstones WHERE user_id = $1`, [userId])).rowCount === 1, { timeoutMs: 20_000, what: 'the tombstone' });
      expect((await check.query(`SELECT 1 FROM ${NAME}.records WHERE user_id = $1`, [userId])).rowCount).toBe(0);
      expect((await check.query(`SELECT count(*)::int AS n FROM ${NAME}.records`)).rows).toEqual([{ n: 1 }]);
    } finally {
      await check.end();
    }
  }, 90_000);
});
