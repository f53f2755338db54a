import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { erasureView, type ErasureRecord } from '../src/erasures/domain/erasure-view.js';
import { ReceiptKeys } from '../src/erasures/domain/receipt-keys.js';

const TOOL = resolve(import.meta.dirname, '../../../tools/verify-erasure-receipt.mjs');
const dir = mkdtempSync(join(tmpdir(), 'erasure-receipt-'));

/** Runs the offline verifier as a user would: `node tools/verify-erasure-receipt.mjs <receipt> <keys>`. */
function runVerifier(receipt: string, keys: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [TOOL, receipt, keys], (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

const pkcs8 = () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');

function write(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
}

/** A completed erasure as GET /v1/privacy/erasures/:id answers it, signed by `keys`. */
function completedErasure(keys: ReceiptKeys) {
  const now = new Date('2026-03-01T10:00:05.000Z');
  const record: ErasureRecord = {
    id: randomUUID(),
    userId: null,
    reason: 'user_request',
    status: 'completed',
    requestedAt: new Date('2026-03-01T10:00:00.000Z'),
    approvedAt: new Date('2026-03-01T10:00:00.100Z'),
    deadlineAt: new Date('2026-03-02T10:00:00.000Z'),
    completedAt: now,
    expectedServices: ['identity', 'media', 'retention'],
    jws: null,
    receipts: [
      { service: 'identity', purgedAt: new Date('2026-03-01T10:00:01.000Z'), counts: { users: 1, sessions: 2 } },
      { service: 'media', purgedAt: new Date('2026-03-01T10:00:02.000Z'), counts: { uploads: 3, objects: 3 } },
      { service: 'retention', purgedAt: new Date('2026-03-01T10:00:03.000Z'), counts: { due_items: 4 } },
    ],
  };
  const view = erasureView(record, now);
  return { ...view, jws: keys.signCompact(JSON.stringify(view)) };
}

describe('tools/verify-erasure-receipt.mjs', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const keys = new ReceiptKeys(`r2:${pkcs8()},r1:${pkcs8()}`);
  const keysFile = write('keys.json', { keys: keys.publicKeys() });
  const erasure = completedErasure(keys);

  it('accepts a good receipt, as the erasure document or as the JWS alone', async () => {
    const asDocument = await runVerifier(write('erasure.json', erasure), keysFile);
    expect(asDocument.code).toBe(0);
    expect(asDocument.stdout).toMatch(new RegExp(`^valid: erasure ${erasure.id} completed 2026-03-01T10:00:05.000Z; signed with EdDSA by key r2 \\(current\\)`));
    expect(asDocument.stdout).toContain('media');
    const asJws = await runVerifier(write('receipt.jws', `${erasure.jws}\n`), keysFile);
    expect(asJws.code).toBe(0);
    expect(asJws.stdout).toMatch(/^valid: /);
  });

  it('refuses a document with one count changed', async () => {
    const altered = structuredClone(erasure);
    altered.receipts[1]!.counts.uploads = 2;
    const result = await runVerifier(write('altered.json', altered), keysFile);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('invalid: the erasure document differs from what the receipt signed, at receipts.1.counts.uploads\n');
  });

  it('refuses a JWS whose payload was changed (the signature no longer matches)', async () => {
    const [header, payload, signature] = erasure.jws.split('.');
    const signed = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as typeof erasure;
    signed.receipts[0]!.counts.users = 0;
    const forged = `${header}.${Buffer.from(JSON.stringify(signed)).toString('base64url')}.${signature}`;
    const result = await runVerifier(write('forged.json', { ...signed, jws: forged }), keysFile);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^invalid: the signature does not verify with key r2/);
  });

  it('refuses a receipt signed by a key that is not served, and one not completed', async () => {
    const stranger = new ReceiptKeys(`r2:${pkcs8()}`);
    const result = await runVerifier(write('stranger.json', completedErasure(stranger)), keysFile);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^invalid: the signature does not verify/);
    const unknownKid = await runVerifier(write('unknown-kid.json', completedErasure(new ReceiptKeys(`zz:${pkcs8()}`))), keysFile);
    expect(unknownKid.stdout).toMatch(/^invalid: no key with kid "zz"/);
    const open: Partial<typeof erasure> = { ...erasure };
    delete open.jws;
    const pending = await runVerifier(write('pending.json', { ...open, status: 'in_progress' }), keysFile);
    expect(pending.code).toBe(1);
    expect(pending.stdout).toMatch(/^invalid: erasure .* has no jws: it is not completed \(status in_progress\)/);
  });

  it('verifies a receipt signed by a key retired since (served as retired)', async () => {
    const rotated = new ReceiptKeys(`r3:${pkcs8()},${'r2'}:${pkcs8()}`);
    const old = new ReceiptKeys(`r9:${pkcs8()}`);
    const signedByOld = completedErasure(old);
    const served = { keys: [...rotated.publicKeys(), { ...old.publicKeys()[0]!, status: 'retired' }] };
    const result = await runVerifier(write('old.json', signedByOld), write('rotated-keys.json', served));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/signed with EdDSA by key r9 \(retired\)/);
  });

  it('explains its usage', async () => {
    const result = await new Promise<{ code: number; stderr: string }>((done) => execFile(process.execPath, [TOOL], (error, _stdout, stderr) => done({ code: Number(error?.code ?? 0), stderr })));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^usage: node tools\/verify-erasure-receipt.mjs/);
  });
});
