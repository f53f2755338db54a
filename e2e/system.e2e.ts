import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { ApiClient } from '@homiwork/api-client';
import { createTestDatabase, createTestNamespace, eventually, type TestDatabase } from '@homiwork/testing';
import { startSystemProcess, type SystemProcess } from '@homiwork/system-runner';

/**
 * The system as `npm start` runs it (compiled supervisor, migrate, dev infrastructure,
 * every service of the manifest), looked at from outside: it survives a killed service,
 * and a restart keeps the development secrets, so sessions outlive it. No NATS_URL is
 * given, so it runs its own nats-server with the generated users and permissions: every
 * test here passing, with no permission violation logged, shows that each service works
 * with only its own permissions.
 */
let database: TestDatabase;
let runDir: string;
let system: SystemProcess | undefined;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  database = await createTestDatabase();
  runDir = mkdtempSync(join(tmpdir(), 'homiwork-run-'));
  env = {
    PATH: process.env.PATH,
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATABASE_URL: database.url,
    EVENT_NAMESPACE: createTestNamespace(),
    EVENT_STREAM_MAX_BYTES: String(64 * 1024 * 1024),
    RUN_DIR: runDir,
  };
  system = await startSystemProcess(env);
}, 120_000);

afterAll(async () => {
  await system?.stop();
  rmSync(runDir, { recursive: true, force: true });
  await database?.drop();
});

const PASSWORD = 'a long and uncommon passphrase';

async function signUp(api: ApiClient) {
  const tag = randomUUID().slice(0, 8);
  const account = { email: `system.${tag}@example.com`, username: `system_${tag}`, password: PASSWORD, ageConfirmed: true as const };
  await api.accounts.register(account);
  return api.accounts.login({ login: account.username, password: PASSWORD });
}

/** The address of the nats-server the system started, from its own line. */
const natsUrlOf = (output: readonly string[]): string | undefined =>
  output.map((line) => /\[system\] no NATS_URL configured: nats-server on (\S+),/.exec(line)?.[1]).find(Boolean);
const permissionViolations = (output: readonly string[]): string[] => output.filter((line) => /(Publish|Subscription) Violation|authentication error/.test(line));

describe('npm start runs its own NATS with one user per service', () => {
  it('refuses anonymous connections, while every service works through its own user', async () => {
    const host = natsUrlOf(system!.output);
    expect(host, 'the system says where its nats-server listens').toBeDefined();
    await expect(connect({ servers: `nats://${host}`, reconnect: false })).rejects.toThrow(/Authorization/i);
    const tokens = await signUp(new ApiClient({ baseUrl: system!.apiUrl }));
    expect((await new ApiClient({ baseUrl: system!.apiUrl, accessToken: tokens.accessToken }).accounts.me()).username).toMatch(/^system_/);
    expect(statSync(join(runDir, 'nats-passwords.json')).mode & 0o777).toBe(0o600);
    // The refused anonymous attempt above is the only authentication error; no service was refused anything.
    expect(permissionViolations(system!.output).filter((line) => !line.includes('User ""'))).toEqual([]);
  });
});

describe('npm start supervises the services', () => {
  it('serves again within 30 s after a service is killed with SIGKILL, while the others keep serving', async () => {
    const api = new ApiClient({ baseUrl: system!.apiUrl });
    const tokens = await signUp(api);
    const before = await system!.status();
    const identity = before.find((service) => service.service === 'identity')!;
    const media = before.find((service) => service.service === 'media')!;
    expect(identity.pid).toBeGreaterThan(0);

    process.kill(identity.pid!, 'SIGKILL');
    const killedAt = performance.now();
    // Meanwhile the other services answer their own health checks.
    let othersServed = 0;
    const client = new ApiClient({ baseUrl: system!.apiUrl, accessToken: tokens.accessToken });
    await eventually(
      async () => {
        if ((await fetch(`${media.opsUrl}/health/live`)).ok && (await fetch(`${system!.apiUrl}/health/live`)).ok) othersServed++;
        const me = await client.accounts.me().catch(() => undefined);
        return me?.username.startsWith('system_') ?? false;
      },
      { timeoutMs: 30_000, what: 'GET /v1/me answered again after identity was killed' },
    );
    expect(performance.now() - killedAt).toBeLessThan(30_000);
    expect(othersServed).toBeGreaterThan(0);

    const after = await system!.status();
    const restarted = after.find((service) => service.service === 'identity')!;
    expect(restarted.pid).not.toBe(identity.pid);
    expect(restarted.restarts).toBe(1);
    expect(after.find((service) => service.service === 'media')!.pid).toBe(media.pid);
    const metrics = await (await fetch(`${system!.supervisorUrl}/metrics`)).text();
    expect(metrics).toMatch(/^supervisor_service_restarts_total\{service="identity",instance="identity"\} 1$/m);
    expect(system!.output.join('\n')).toMatch(/identity exited \(SIGKILL\); restarting/);
  }, 60_000);

  it('keeps its development secrets across a restart: a session from before still works after', async () => {
    const api = new ApiClient({ baseUrl: system!.apiUrl });
    const tokens = await signUp(api);
    expect(statSync(join(runDir, 'secrets.json')).mode & 0o777).toBe(0o600);

    expect(await system!.stop()).toBe(0);
    system = await startSystemProcess(env);
    expect(system.output.join('\n')).toMatch(/development secrets reused/);

    const again = new ApiClient({ baseUrl: system.apiUrl, accessToken: tokens.accessToken });
    expect((await again.accounts.me()).username).toMatch(/^system_/);
    const refreshed = await new ApiClient({ baseUrl: system.apiUrl }).accounts.refresh(tokens.refreshToken);
    expect(refreshed.accessToken).toBeTruthy();
    expect(permissionViolations(system.output), 'a service did something its NATS user may not').toEqual([]);
  }, 120_000);
});
