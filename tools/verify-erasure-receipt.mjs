#!/usr/bin/env node
// Verifies an erasure receipt offline (docs/erasure-receipts.md). Needs Node.js 18+ and
// nothing else: node:crypto only, no package of this repository.
//
//   node tools/verify-erasure-receipt.mjs <erasure.json | receipt.jws> <keys.json>
//
// erasure.json: the answer of GET /v1/privacy/erasures/:erasureId (its `jws` is checked, and
//               every other field must equal what the JWS signed);
// receipt.jws:  the compact JWS alone;
// keys.json:    the answer of GET /v1/privacy/receipt-keys.
// Prints `valid: …` and exits 0, or `invalid: <what failed>` and exits 1 (2: bad usage).
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

class Invalid extends Error {}

function print(line) {
  process.stdout.write(`${line}\n`);
}

function fail(reason) {
  throw new Invalid(reason);
}

function readText(path, what) {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (error) {
    fail(`cannot read the ${what} file ${path}: ${error.code ?? error.message}`);
  }
}

function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch {
    fail(`the ${what} is not JSON`);
  }
}

function decodeSegment(segment, what) {
  return parseJson(Buffer.from(segment, 'base64url').toString('utf8'), what);
}

/** Equal as JSON values, whatever the order of object keys (a pretty-printed copy is fine). */
function sameJson(a, b) {
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameJson(item, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && sameJson(a[key], b[key]));
  }
  return a === b;
}

/** The first field (dotted path) where the served JSON and the signed one differ. */
function firstDifference(served, signed, path = '') {
  if (sameJson(served, signed)) return undefined;
  if (served && signed && typeof served === 'object' && typeof signed === 'object') {
    for (const key of new Set([...Object.keys(served), ...Object.keys(signed)])) {
      const found = firstDifference(served[key], signed[key], path ? `${path}.${key}` : key);
      if (found) return found;
    }
  }
  return path || '(the whole document)';
}

function main(argv) {
  if (argv.length !== 2) {
    process.stderr.write('usage: node tools/verify-erasure-receipt.mjs <erasure.json | receipt.jws> <keys.json>\n');
    return 2;
  }
  const [receiptPath, keysPath] = argv;
  const receiptText = readText(receiptPath, 'receipt');
  let jws;
  let served;
  if (COMPACT_JWS.test(receiptText)) jws = receiptText;
  else {
    const erasure = parseJson(receiptText, 'receipt file');
    if (!erasure || typeof erasure !== 'object') fail('the receipt file is neither an erasure (JSON) nor a compact JWS');
    if (typeof erasure.jws !== 'string') fail(`erasure ${erasure.id ?? '?'} has no jws: it is not completed (status ${erasure.status ?? 'unknown'}), so there is no signed receipt yet`);
    jws = erasure.jws;
    served = Object.fromEntries(Object.entries(erasure).filter(([name]) => name !== 'jws'));
  }
  if (!COMPACT_JWS.test(jws)) fail('the jws is not a compact JWS (three base64url parts separated by dots)');
  const [headerPart, payloadPart, signaturePart] = jws.split('.');
  const header = decodeSegment(headerPart, 'JWS header');
  if (header.alg !== 'EdDSA') fail(`the JWS header's alg is ${JSON.stringify(header.alg)}, not EdDSA`);
  if (typeof header.kid !== 'string') fail('the JWS header names no key (kid)');

  const keysDocument = parseJson(readText(keysPath, 'keys'), 'keys file');
  const keys = Array.isArray(keysDocument) ? keysDocument : keysDocument?.keys;
  if (!Array.isArray(keys)) fail('the keys file has no "keys" list (save GET /v1/privacy/receipt-keys)');
  const key = keys.find((candidate) => candidate && candidate.kid === header.kid);
  if (!key) fail(`no key with kid ${JSON.stringify(header.kid)} in the keys file (known: ${keys.map((k) => k?.kid).join(', ') || 'none'})`);
  if (key.jwk?.kty !== 'OKP' || key.jwk?.crv !== 'Ed25519' || typeof key.jwk?.x !== 'string') fail(`key ${header.kid} is not an Ed25519 public key (OKP/Ed25519 JWK)`);
  let publicKey;
  try {
    publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key.jwk.x }, format: 'jwk' });
  } catch {
    fail(`key ${header.kid} cannot be read as an Ed25519 public key`);
  }
  const signature = Buffer.from(signaturePart, 'base64url');
  if (!verify(null, Buffer.from(`${headerPart}.${payloadPart}`, 'ascii'), publicKey, signature)) {
    fail(`the signature does not verify with key ${header.kid}: the receipt was altered or signed by another key`);
  }

  const receipt = decodeSegment(payloadPart, 'JWS payload');
  if (served !== undefined) {
    const differs = firstDifference(served, receipt);
    if (differs) fail(`the erasure document differs from what the receipt signed, at ${differs}`);
  }
  if (receipt.status !== 'completed') fail(`the signed erasure is not completed (status ${receipt.status})`);
  const expected = Array.isArray(receipt.expectedServices) ? receipt.expectedServices : [];
  const confirmed = new Set((Array.isArray(receipt.receipts) ? receipt.receipts : []).map((r) => r.service));
  const missing = expected.filter((service) => !confirmed.has(service));
  if (expected.length === 0 || missing.length > 0) fail(`the signed erasure lacks receipts from: ${missing.join(', ') || 'every service'}`);

  const keyStatus = key.status ? ` (${key.status})` : '';
  print(`valid: erasure ${receipt.id} completed ${receipt.completedAt}; signed with EdDSA by key ${header.kid}${keyStatus}; purge confirmed by ${expected.length} services: ${expected.join(', ')}`);
  for (const r of receipt.receipts) {
    const counts = Object.entries(r.counts ?? {}).map(([name, count]) => `${name}=${count}`).join(' ');
    print(`  ${r.service.padEnd(11)} ${r.purgedAt}  ${counts}`);
  }
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof Invalid)) throw error;
  print(`invalid: ${error.message}`);
  process.exitCode = 1;
}
