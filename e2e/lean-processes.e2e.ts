import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, createTestNamespace, type TestDatabase } from '@homiwork/testing';
import { SERVICE_MANIFEST, startSystemProcess, type InstanceStatus, type SystemProcess } from '@homiwork/system-runner';

/**
 * Issue 7: every service, started as `npm start` starts it, runs with the run-time settings
 * of its manifest entry and stays within its resident-memory budget when idle after start.
 */
const IDLE_BUDGET_MB = 180;

let database: TestDatabase;
let runDir: string;
let system: SystemProcess | undefined;
let services: InstanceStatus[];

beforeAll(async () => {
  database = await createTestDatabase();
  runDir = mkdtempSync(join(tmpdir(), 'homiwork-run-'));
  system = await startSystemProcess({
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    // Production refuses the development payment processor; nothing is bought here.
    PAYMENT_PROCESSOR: 'webhook',
    PAYMENT_PROCESSOR_URL: 'http://127.0.0.1:9/unused',
    LOG_LEVEL: 'warn',
    DATABASE_URL: database.url,
    EVENT_NAMESPACE: createTestNamespace(),
    RUN_DIR: runDir,
  });
  services = await system.status();
}, 120_000);

afterAll(async () => {
  await system?.stop();
  rmSync(runDir, { recursive: true, force: true });
  await database?.drop();
});

const statusField = (pid: number, field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

describe('lean service processes', () => {
  it('runs every service of the manifest with the run-time settings of its entry', () => {
    expect(services.map((service) => service.service)).toEqual(SERVICE_MANIFEST.map((entry) => entry.name));
    for (const service of services) {
      const entry = SERVICE_MANIFEST.find((candidate) => candidate.name === service.service)!;
      const environ = readFileSync(`/proc/${service.pid!}/environ`, 'utf8').split('\0');
      for (const [key, value] of Object.entries(entry.env ?? {})) expect(environ, `${service.service}: ${key}`).toContain(`${key}=${value}`);
    }
  });

  it(`keeps every service within ${IDLE_BUDGET_MB} MB resident when idle after start`, async () => {
    await sleep(5_000);
    const resident = Object.fromEntries(services.map((service) => [service.service, Math.round(statusField(service.pid!, 'VmRSS'))]));
    for (const [service, mb] of Object.entries(resident)) expect(mb, `${service} idles at ${mb} MB: ${JSON.stringify(resident)}`).toBeLessThanOrEqual(IDLE_BUDGET_MB);
  }, 30_000);
});
