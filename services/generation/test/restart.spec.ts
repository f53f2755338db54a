import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContentCreatedV1, GenerationFinishedV1, GenerationRpc } from '@homiwork/contracts';
import { compiledMain, freePort, launchService, SERVICE_MANIFEST, type LaunchedService } from '@homiwork/system-runner';
import { eventually } from '@homiwork/testing';
import { startHarness, type Harness } from './harness.js';

// A job survives the death of the process running it (R4.1: none lost, none run twice at
// the user's cost). Process A — the compiled service, as production runs it — claims the
// job and dispatches it to a provider (a local HTTP server standing in for an outside AI
// provider) that never answers; A is killed with SIGKILL mid-dispatch. Service B starts
// afterwards, takes the job over once A's lease lapses, and finishes it with the local
// contractor: one result, one reservation (made once, at creation), one GenerationFinished.

const LEASE_MS = 2_000;
let h: Harness;
let provider: Server;
const received: IncomingMessage[] = [];
let a: LaunchedService | undefined;

beforeAll(async () => {
  // The stand-in provider takes the request and keeps it hanging.
  provider = createServer((request) => {
    received.push(request);
    request.resume();
  });
  await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
  h = await startHarness({ GENERATION_LEASE_MS: String(LEASE_MS) }, { deferService: true });
});
afterAll(async () => {
  await a?.stop();
  await h?.stop();
  provider?.closeAllConnections();
  await new Promise<void>((resolve) => provider?.close(() => resolve()));
});

describe('a job whose process dies mid-run', () => {
  it('is taken over after its lease lapses and finishes once, without a second reservation', async () => {
    const opsPort = await freePort();
    const lines: string[] = [];
    const entry = SERVICE_MANIFEST.find((candidate) => candidate.name === 'generation')!;
    a = launchService(
      'generation-a',
      compiledMain(entry),
      {
        ...h.env,
        PATH: process.env.PATH,
        OPS_PORT: String(opsPort),
        CONTRACTOR_ADAPTERS: 'text=http',
        CONTRACTOR_URL: `http://127.0.0.1:${(provider.address() as AddressInfo).port}`,
        CONTRACTOR_API_KEY: 'a-test-key-for-the-stand-in-provider',
        CONTRACTOR_RETRIES: '0',
      },
      (_name, line) => lines.push(line),
    );
    await a.waitUntilReady(opsPort);

    const user = h.newUser();
    const accepted = await h.call(GenerationRpc.CreateGenerationRoute, { kind: 'text', prompt: 'A thank-you note for the neighbours' }, user.id);
    await eventually(() => received.length === 1, { what: 'process A dispatching the job', timeoutMs: 15_000 });
    expect((await h.sql('SELECT status, attempts FROM generation.jobs WHERE id = $1', [accepted.id]))[0]).toEqual({ status: 'running', attempts: 1 });

    a.child.kill('SIGKILL');
    await a.exited;
    a = undefined;

    await h.startService();
    const job = await h.finished(accepted.id, user.id, 20_000);
    expect(job).toMatchObject({ status: 'succeeded', contentId: expect.any(String) });
    expect((await h.sql('SELECT attempts, prompt FROM generation.jobs WHERE id = $1', [accepted.id]))[0]).toEqual({ attempts: 2, prompt: null });

    // Charged once: the only reservation is the one made at creation.
    expect(h.peers.reservations.filter((reservation) => reservation.reservationId === accepted.id)).toHaveLength(1);
    // One result, announced once, and settled once.
    expect(await h.sql('SELECT 1 FROM generation.contents WHERE job_id = $1', [accepted.id])).toHaveLength(1);
    expect(await h.store.listOwnerKeys(user.id)).toHaveLength(1);
    await eventually(async () => (await h.events(GenerationFinishedV1)).some((event) => event.jobId === accepted.id), { what: 'GenerationFinished' });
    expect((await h.events(GenerationFinishedV1)).filter((event) => event.jobId === accepted.id).map((event) => event.outcome)).toEqual(['succeeded']);
    expect((await h.events(ContentCreatedV1)).filter((event) => event.contentId === job.contentId)).toHaveLength(1);
    // The provider got the job once (from A); B used the local contractor.
    expect(received).toHaveLength(1);
    // Nothing personal went into A's log lines.
    expect(lines.join('\n')).not.toContain(user.email);
  }, 90_000);
});

describe('a service asked to stop while a job runs', () => {
  it('gives the job back unfinished: claimable at once, the attempt not counted, nothing charged or announced', async () => {
    const stopping = await startHarness({
      CONTRACTOR_ADAPTERS: 'text=http',
      CONTRACTOR_URL: `http://127.0.0.1:${(provider.address() as AddressInfo).port}`,
      CONTRACTOR_API_KEY: 'a-test-key-for-the-stand-in-provider',
      CONTRACTOR_RETRIES: '0',
    });
    try {
      const user = stopping.newUser();
      const before = received.length;
      const accepted = await stopping.call(GenerationRpc.CreateGenerationRoute, { kind: 'text', prompt: 'A note for the caretaker' }, user.id);
      await eventually(() => received.length === before + 1, { what: 'the job dispatched', timeoutMs: 15_000 });
      await stopping.service.close();
      const [row] = await stopping.sql<{ status: string; attempts: number; released: boolean }>('SELECT status, attempts, lease_until <= now() AS released FROM generation.jobs WHERE id = $1', [accepted.id]);
      expect(row).toEqual({ status: 'running', attempts: 0, released: true });
      expect(await stopping.events(GenerationFinishedV1)).toEqual([]);
    } finally {
      await stopping.stop();
    }
  }, 60_000);
});
