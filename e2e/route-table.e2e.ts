import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateGeneration, GetMe, HTTP_ROUTES, type HttpRoute } from '@homiwork/contracts';
import { eventually } from '@homiwork/testing';
import { createResources, finishedGeneration, markerWord, planResources, type ResourceOwner, type ResourcePlan } from './support/resource-owners.js';
import { errorCodeOf, exampleRequest, pathParams, routeName, sendRoute, type RouteAnswer, type RouteRequest } from './support/route-request.js';
import type { ExampleHints } from './support/schema-example.js';
import { differences, SystemFingerprint } from './support/system-fingerprint.js';
import { startTestSystem, type TestSystem } from './support/test-system.js';
import { claimsOf, forgeAccessToken, tokenAttacks, type TokenAttack } from './support/token-attacks.js';

/*
 * Issue 8, "Must show": every authenticated route against the token attack list, and every
 * resource id of one user asked for by another — generated from the route table
 * (HTTP_ROUTES), so a route added to the table is attacked without a line added here.
 * Requests are built from the routes' own schemas (support/schema-example.ts) and each
 * route's request is proven valid by a control that passes with a good token, so every
 * 401 and 404 below comes from the guard or the ownership check, not from a bad body.
 */

const PASSWORD = 'a long and uncommon passphrase';
/**
 * Values the generated bodies must use to be accepted: the accounts' real password, the
 * cheapest generation kind, the privacy request with no lasting effect (an export would build
 * in the background, a restriction would stop the account's generations), and (set once the
 * system runs) a product billing sells.
 */
const FIELD_HINTS: Record<string, unknown> = { password: PASSWORD, currentPassword: PASSWORD, kind: 'text', type: 'consent_withdrawal' };
const HINTS: ExampleHints = { fields: FIELD_HINTS };

const PROTECTED_ROUTES = HTTP_ROUTES.filter((route) => route.auth !== 'public');
const OPERATOR_ROUTES = HTTP_ROUTES.filter((route) => route.auth === 'operator');
const ROUTES_WITH_IDS = HTTP_ROUTES.filter((route) => pathParams(route.path).length > 0);
const PLANS = new Map<HttpRoute, ResourcePlan>(ROUTES_WITH_IDS.map((route) => [route, planResources(route, HTTP_ROUTES)]));

interface Account {
  userId: string;
  accessToken: string;
  refreshToken: string;
}

let system: TestSystem;
let fingerprint: SystemFingerprint;
/**
 * One victim per authenticated route, so a leak on one route (a DELETE /v1/me that went
 * through) cannot hide what the next route does: its account, a logged-out second session,
 * its real resources, and the attack list built from its tokens.
 */
const victims = new Map<HttpRoute, { account: Account; request: RouteRequest; attacks: TokenAttack[] }>();
/** Owns one resource per route with ids; the stranger asks for them. */
let owner: Account;
let stranger: Account;
const ownerParams = new Map<HttpRoute, Record<string, string>>();
const ownerMarker = markerWord('ownersecret');

const baseUrl = () => system.gateways[0]!;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function newAccount(options: { operator?: boolean } = {}): Promise<Account & { email: string }> {
  const tag = randomUUID().replaceAll('-', '').slice(0, 12);
  const email = `rt.${tag}@example.com`;
  const { user } = await system.api().accounts.register({ email, username: `rt_${tag}`, password: PASSWORD, ageConfirmed: true });
  // Promoted in the database as `seed:operator` would, before the login that puts the role in the token.
  if (options.operator) await system.sql("UPDATE identity.users SET role = 'operator' WHERE id = $1", [user.id]);
  const tokens = await system.api().accounts.login({ login: email, password: PASSWORD });
  return { userId: user.id, email, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken };
}

function ownerOf(account: Account, marker: string): ResourceOwner {
  return { send: (route, request) => sendRoute(baseUrl(), route, request, `Bearer ${account.accessToken}`), hints: HINTS, marker };
}

const meStatus = async (token: string) => (await sendRoute(baseUrl(), GetMe, { params: {} }, `Bearer ${token}`)).status;
const describeAnswer = (answer: RouteAnswer) => `${answer.status} ${errorCodeOf(answer)}`;
/**
 * Revocation reaches the gateway asynchronously (a KV watch): wait for it, but not forever —
 * if it never comes, the attack tests are the ones to fail, naming the attack and the route.
 */
const revocationSeen = (token: string) => eventually(async () => (await meStatus(token)) === 401, { timeoutMs: 5_000 }).catch(() => undefined);

/** Path parameters naming nothing. */
const unknownParams = (route: HttpRoute) => Object.fromEntries(pathParams(route.path).map((name) => [name, randomUUID()]));

/** A victim for the route: real resources where they can be made, else unknown ids (the guard must refuse before any lookup). */
async function victimFor(route: HttpRoute, deletedAccountAccessToken: string) {
  const account = await newAccount({ operator: route.auth === 'operator' });
  const marker = markerWord('victimsecret');
  const plan = PLANS.get(route);
  const params = plan?.kind === 'creatable' ? await createResources(plan, ownerOf(account, marker)) : unknownParams(route);
  // A second session of the victim, logged out: its access token is revoked but not expired.
  const loggedOut = await system.api().accounts.login({ login: account.email, password: PASSWORD });
  await system.api().accounts.logout(loggedOut.refreshToken);
  await revocationSeen(loggedOut.accessToken);
  const attacks = await tokenAttacks({
    victimAccessToken: account.accessToken,
    victimRefreshToken: account.refreshToken,
    loggedOutAccessToken: loggedOut.accessToken,
    deletedAccountAccessToken,
    jwtPrivateKeyPem: system.secrets.JWT_PRIVATE_KEY,
    jwtPublicKeyPem: system.secrets.JWT_PUBLIC_KEY,
  });
  return { account, request: exampleRequest(route, params, HINTS, marker), attacks };
}

beforeAll(async () => {
  system = await startTestSystem({
    env: { RATE_LIMIT_AUTH_PER_MINUTE: '100000', RATE_LIMIT_READ_PER_MINUTE: '100000', RATE_LIMIT_WRITE_PER_MINUTE: '100000', RATE_LIMIT_GENERATION_PER_MINUTE: '100000' },
  });
  fingerprint = new SystemFingerprint(system);
  const deleted = await newAccount();
  await system.api({ token: deleted.accessToken }).accounts.deleteMe(PASSWORD);
  await revocationSeen(deleted.accessToken);

  [owner, stranger] = await Promise.all([newAccount(), newAccount()]);
  const [product] = (await system.api({ token: owner.accessToken }).billing.products()).items;
  if (!product) throw new Error('billing sells no product: POST /v1/billing/orders would have nothing to order');
  FIELD_HINTS.productId = product.id;
  await Promise.all([
    ...PROTECTED_ROUTES.map(async (route) => victims.set(route, await victimFor(route, deleted.accessToken))),
    ...[...PLANS].map(async ([route, plan]) => {
      if (plan.kind === 'creatable') ownerParams.set(route, await createResources(plan, ownerOf(owner, ownerMarker)));
    }),
  ]).catch((error: unknown) => {
    // A resource that could not be made is usually a service's failure: its last words say which.
    throw new Error(`${String(error)}\nlast log lines:\n${system.logs.slice(-12).map((line) => line.slice(0, 300)).join('\n')}`);
  });
}, 120_000);

afterAll(async () => {
  await fingerprint?.close();
  await system?.stop();
});

describe('the route table is covered', () => {
  it('has authenticated routes and resource ids to attack (an empty table would make this suite pass vacuously)', () => {
    expect(PROTECTED_ROUTES.length).toBeGreaterThan(0);
    expect(ROUTES_WITH_IDS.length).toBeGreaterThan(0);
  });

  it('every authenticated route has a valid example request, built from its schemas', () => {
    const failures: string[] = [];
    for (const route of PROTECTED_ROUTES) {
      try {
        exampleRequest(route, Object.fromEntries(pathParams(route.path).map((name) => [name, randomUUID()])), HINTS);
      } catch (error) {
        failures.push(String(error));
      }
    }
    expect(failures).toEqual([]);
  });

  it('every id in a path has a way to create its resource, or an explicit reason it is skipped', () => {
    const uncovered = [...PLANS].flatMap(([route, plan]) => (plan.kind === 'uncovered' ? [`${routeName(route)}: nothing creates ${plan.resource}`] : []));
    expect(uncovered).toEqual([]);
  });
});

describe('token attacks on every authenticated route (R1.3)', () => {
  it('the attack list is complete, and a token forged with the run key and correct claims passes (so each attack differs by one thing)', async () => {
    const { account, attacks } = victims.get(PROTECTED_ROUTES[0]!)!;
    expect(attacks.length).toBeGreaterThanOrEqual(12);
    expect(await meStatus(account.accessToken)).toBe(200);
    expect(await meStatus(await forgeAccessToken(system.secrets.JWT_PRIVATE_KEY, claimsOf(account.accessToken)))).toBe(200);
  });

  for (const route of PROTECTED_ROUTES) {
    it(`${routeName(route)} answers 401 unauthorized to every attack, and nothing changes`, async () => {
      const { request, attacks } = victims.get(route)!;
      const before = await fingerprint.settled();
      const answers = await Promise.all(attacks.map(async (attack) => ({ attack, answer: await sendRoute(baseUrl(), route, request, attack.authorization) })));
      // A write a leaky guard let through is done by the time it answered; consumers get a moment more.
      await sleep(300);
      const changed = differences(before, await fingerprint.take());
      const wrongAnswers = answers.filter(({ answer }) => answer.status !== 401 || errorCodeOf(answer) !== 'unauthorized').map(({ attack, answer }) => `${attack.name}: ${describeAnswer(answer)}`);
      expect({ wrongAnswers, changed }).toEqual({ wrongAnswers: [], changed: [] });
    });
  }

  for (const route of PROTECTED_ROUTES) {
    const plan = PLANS.get(route);
    if (plan && plan.kind !== 'creatable') {
      it.skip(`control: ${routeName(route)} with a valid token — no resource to ask for (${plan.kind === 'skipped' ? plan.reason : 'uncovered'})`, () => undefined);
      continue;
    }
    it(`control: ${routeName(route)} succeeds with a forged token of correct claims and the same kind of request`, async () => {
      const account = await newAccount({ operator: route.auth === 'operator' });
      const params = plan ? await createResources(plan, ownerOf(account, markerWord('control'))) : {};
      const token = await forgeAccessToken(system.secrets.JWT_PRIVATE_KEY, claimsOf(account.accessToken));
      const answer = await sendRoute(baseUrl(), route, exampleRequest(route, params, HINTS), `Bearer ${token}`);
      expect(answer.status, answer.text.slice(0, 300)).toBe(route.successStatus);
      // A job it started runs on: let it finish before the next test's "nothing changed".
      if (route === CreateGeneration) await finishedGeneration(ownerOf(account, ''), (answer.json as { id: string }).id);
    });
  }
});

describe('operator routes refuse users (R1.3)', () => {
  if (OPERATOR_ROUTES.length === 0) it.skip('no operator route in the route table yet', () => undefined);
  for (const route of OPERATOR_ROUTES) {
    it(`${routeName(route)} answers 403 forbidden to a valid user token, and nothing changes`, async () => {
      const before = await fingerprint.settled();
      const answer = await sendRoute(baseUrl(), route, victims.get(route)!.request, `Bearer ${stranger.accessToken}`);
      await sleep(300);
      expect({ answer: describeAnswer(answer), changed: differences(before, await fingerprint.take()) }).toEqual({ answer: '403 forbidden', changed: [] });
    });
  }
});

describe('one user never reaches another’s resources (R1.3)', () => {
  for (const route of ROUTES_WITH_IDS) {
    const plan = PLANS.get(route)!;
    if (plan.kind === 'skipped') {
      it.skip(`${routeName(route)} — skipped: ${plan.reason}`, () => undefined);
      continue;
    }
    if (plan.kind === 'creatable' && plan.readOwn) {
      const readOwn = plan.readOwn;
      it(`${routeName(route)}: another user using the owner's id reaches only their own (per-user resource); the owner's is unchanged and unseen`, async () => {
        // A fresh copy with the marker: an earlier test's control may have cleared the owner's conversation.
        const params = await createResources(plan, ownerOf(owner, ownerMarker));
        await fingerprint.settled();
        const before = await readOwn(ownerOf(owner, ownerMarker), params);
        // The control of the read: the owner's copy holds the owner's marker, so a leak of it below would be seen.
        expect(before).toContain(ownerMarker);
        const theirs = await sendRoute(baseUrl(), route, exampleRequest(route, params, HINTS), `Bearer ${stranger.accessToken}`);
        expect(theirs.status, theirs.text.slice(0, 300)).toBe(route.successStatus);
        expect(theirs.text).not.toContain(ownerMarker);
        // The stranger's own copy under the same id holds nothing of the owner's either.
        expect(await readOwn(ownerOf(stranger, ''), params)).not.toContain(ownerMarker);
        await fingerprint.settled();
        expect(await readOwn(ownerOf(owner, ownerMarker), params)).toBe(before);
        // An id that names nothing is the 404 of an unknown id, as on every other route.
        const nobodys = await sendRoute(baseUrl(), route, exampleRequest(route, unknownParams(route), HINTS), `Bearer ${stranger.accessToken}`);
        expect(describeAnswer(nobodys)).toBe('404 not_found');

        // Control: the owner's own request goes through, and a read shows the owner's content.
        const own = await sendRoute(baseUrl(), route, exampleRequest(route, await createResources(plan, ownerOf(owner, ownerMarker)), HINTS), `Bearer ${owner.accessToken}`);
        expect(own.status, own.text.slice(0, 300)).toBe(route.successStatus);
        if (route.method === 'GET') expect(own.text).toContain(ownerMarker);
      });
      continue;
    }
    it(`${routeName(route)}: another user asking for the owner's resource gets the 404 of an unknown id, and nothing changes`, async () => {
      if (plan.kind === 'uncovered') throw new Error(`nothing creates ${plan.resource}: add a creator or a skip reason in e2e/support/resource-owners.ts`);
      const before = await fingerprint.settled();
      const [theirs, nobodys] = await Promise.all([
        sendRoute(baseUrl(), route, exampleRequest(route, ownerParams.get(route)!, HINTS), `Bearer ${stranger.accessToken}`),
        sendRoute(baseUrl(), route, exampleRequest(route, unknownParams(route), HINTS), `Bearer ${stranger.accessToken}`),
      ]);
      await sleep(300);
      const changed = differences(before, await fingerprint.take());
      expect({ answer: describeAnswer(theirs), changed }).toEqual({ answer: '404 not_found', changed: [] });
      // Indistinguishable from an id nobody has: no existence oracle, and nothing of the owner's.
      expect(theirs.text).toBe(nobodys.text);
      expect(theirs.text).not.toContain(ownerMarker);

      // Control: the owner gets the same kind of request through (on a fresh resource: the route may delete it).
      const marker = markerWord('ownercontrol');
      const own = await sendRoute(baseUrl(), route, exampleRequest(route, await createResources(plan, ownerOf(owner, marker)), HINTS), `Bearer ${owner.accessToken}`);
      expect(own.status, own.text.slice(0, 300)).toBe(route.successStatus);
      // Where the route serves the content, the marker shows up: the leak check above would see a leak.
      if (route.binaryResponse) expect(own.text).toContain(marker);
    });
  }
});
