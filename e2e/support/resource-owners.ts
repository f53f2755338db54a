import { randomBytes } from 'node:crypto';
import { CreateGeneration, CreatePrivacyRequest, DeleteContent, GetBalance, GetGeneration, ListAssistants, ListMessages, SendMessage, type HttpRoute } from '@homiwork/contracts';
import { createdId, exampleRequest, pathParams, routeName, type RouteAnswer, type RouteRequest } from './route-request.js';
import type { ExampleHints } from './schema-example.js';

/**
 * How the route-table suite gets a resource of one user for every id in a path, so it can
 * ask for it as another user. By default from the route table itself: the resource
 * `/v1/uploads/:id` is created by `POST /v1/uploads` (its collection), and a nested one
 * (`/v1/assistants/:assistantId/chats/:id`) by creating each parent first. A resource no
 * route creates (a generation's content, say) needs an entry in RESOURCE_CREATORS, or a
 * reason in UNCREATABLE_RESOURCES until it can be made; a route with neither fails the suite.
 * A resource every user has their own of under the same id (a conversation with an assistant
 * of the catalogue) is a PER_USER_RESOURCES entry: there another user's request succeeds, on
 * their own copy, and the suite checks that the owner's copy is untouched and unseen.
 */
export interface ResourceOwner {
  /** Sends a request with the owner's valid token. */
  send(route: HttpRoute, request: RouteRequest): Promise<RouteAnswer>;
  hints: ExampleHints;
  /**
   * Written into created files and generated content, so a leak can be searched for: one
   * lower-case word (see `markerWord`), as a generation's prompt survives the scrubber and
   * the local contractor's theme words whole only as a plain word.
   */
  marker: string;
}

/** A marker for ResourceOwner: `label` and 16 random lower-case letters, one word of at most 24 letters. */
export function markerWord(label: string): string {
  const letters = Array.from(randomBytes(16), (byte) => String.fromCharCode(97 + (byte % 26))).join('');
  return `${label}${letters}`.slice(0, 24);
}

/** Makes one resource of the owner and answers its id; `params` holds the ids of its parents. */
export type ResourceCreator = (owner: ResourceOwner, params: Readonly<Record<string, string>>) => Promise<string>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until the owner's generation job has finished and answers it. A job left running
 * would change the system while the suite's next "nothing changed" snapshot is taken.
 */
export async function finishedGeneration(owner: ResourceOwner, id: string, timeoutMs = 60_000): Promise<{ status: string; contentId?: string; error?: { code: string } }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await owner.send(GetGeneration, { params: { id } });
    const job = answer.json as { status?: string; contentId?: string; error?: { code: string } } | undefined;
    if (answer.status !== 200) throw new Error(`GET /v1/generations/${id} answered ${answer.status} ${answer.text.slice(0, 200)}`);
    if (job?.status === 'succeeded' || job?.status === 'failed') return job as { status: string };
    if (Date.now() > deadline) throw new Error(`generation ${id} still ${job?.status} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** A finished `text` generation whose prompt is the owner's marker; the cheapest kind, and its content carries the marker. */
async function textGeneration(owner: ResourceOwner): Promise<{ id: string; contentId: string | undefined; status: string }> {
  const id = createdId(CreateGeneration, await owner.send(CreateGeneration, { params: {}, body: { kind: 'text', prompt: owner.marker } }));
  const job = await finishedGeneration(owner, id);
  return { id, contentId: job.contentId, status: job.status };
}

/** Keyed by the resource's path up to its id (`/v1/contents/:id`): for resources that no `POST` to their collection creates. */
export const RESOURCE_CREATORS: Readonly<Record<string, ResourceCreator>> = {
  // POST /v1/generations would create it too, but not wait for the job to finish.
  '/v1/generations/:id': async (owner) => (await textGeneration(owner)).id,
  // An erasure request without the password waits for verification: readable and withdrawable, and it erases nothing.
  '/v1/privacy/requests/:id': async (owner) => createdId(CreatePrivacyRequest, await owner.send(CreatePrivacyRequest, { params: {}, body: { type: 'erasure' } })),
  '/v1/contents/:id': async (owner) => {
    const job = await textGeneration(owner);
    if (job.status !== 'succeeded' || !job.contentId) throw new Error(`generation ${job.id} made no content: ${job.status}`);
    return job.contentId;
  },
};

/**
 * Resources whose id is shared and whose content is per user: `/v1/assistants/:assistantId`
 * names an assistant of the catalogue, and the conversation behind it is the caller's own.
 * `create` gives the owner content there (a message with the marker) and answers the id;
 * `read` answers the owner's copy as the owner sees it, to compare before and after a
 * stranger's request.
 */
export interface PerUserResource {
  create: ResourceCreator;
  read: (owner: ResourceOwner, params: Readonly<Record<string, string>>) => Promise<string>;
}

export const PER_USER_RESOURCES: Readonly<Record<string, PerUserResource>> = {
  '/v1/assistants/:assistantId': {
    create: async (owner) => {
      const listed = await owner.send(ListAssistants, { params: {} });
      const assistant = (listed.json as { items?: Array<{ id: string }> } | undefined)?.items?.[0];
      if (listed.status !== 200 || !assistant) throw new Error(`GET /v1/assistants named no assistant: ${listed.status} ${listed.text.slice(0, 200)}`);
      // The signup grant arrives through an event: a reply before it lands would be refused for energy.
      await waitFor(async () => (((await owner.send(GetBalance, { params: {} })).json as { energy?: number } | undefined)?.energy ?? 0) > 0, 'the signup grant', 20_000);
      const sent = await owner.send(SendMessage, { params: { assistantId: assistant.id }, body: { text: `a short poem about ${owner.marker}` } });
      if (sent.status !== SendMessage.successStatus) throw new Error(`POST /v1/assistants/${assistant.id}/messages did not answer: ${sent.status} ${sent.text.slice(0, 200)}`);
      return assistant.id;
    },
    read: async (owner, params) => {
      const answer = await owner.send(ListMessages, { params: { assistantId: params.assistantId! } });
      if (answer.status !== 200) throw new Error(`the owner could not read the conversation: ${answer.status} ${answer.text.slice(0, 200)}`);
      return answer.text;
    },
  },
};

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not come within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Keyed by `METHOD /path`: what a route needs done to the created resources before it can succeed (restore needs something in the trash). */
export const ROUTE_PREPARATIONS: Readonly<Record<string, (owner: ResourceOwner, params: Readonly<Record<string, string>>) => Promise<void>>> = {
  'POST /v1/contents/:id/restore': async (owner, params) => {
    const answer = await owner.send(DeleteContent, { params: { id: params.id! } });
    if (answer.status !== 204) throw new Error(`could not move content ${params.id} to the trash: ${answer.status} ${answer.text.slice(0, 200)}`);
  },
};

/** Keyed like RESOURCE_CREATORS: resources that cannot be created through the API yet, and why. Reported as skipped. */
export const UNCREATABLE_RESOURCES: Readonly<Record<string, string>> = {
  '/v1/privacy/erasures/:erasureId': 'public by the API contract: the opaque erasureId is the key, and the view holds counts only (e2e/privacy-rights.e2e.ts)',
  '/v1/privacy/exports/:id': 'public: the link’s token is the key, not a session — a wrong token is 404, none 400, an expired one 410 (e2e/privacy-rights.e2e.ts, services/retention/test/exports.spec.ts)',
  '/v1/admin/legal-holds/:id': 'operators act on every user’s holds by design; users get 403 (operator routes refuse users, above)',
  '/v1/admin/users/:id': 'operators act on every account by design; users get 403 (operator routes refuse users, above)',
  '/v1/billing/webhooks/:provider':
    'a payment processor’s name, not a resource of a user: the route is public and its caller proves itself with the signature (e2e/billing.e2e.ts)',
  '/v1/billing/checkout/:orderId':
    'the local processor’s public checkout page (development only), reached by the order’s unguessable id as a processor’s hosted page is: no token, so no other user to refuse (e2e/billing.e2e.ts)',
};

/** Keyed by `METHOD /path`: routes whose success cannot be repeated on the suite's accounts, and why. Reported as skipped. */
export const UNREPEATABLE_ROUTES: Readonly<Record<string, string>> = {
  'POST /v1/privacy/requests/:id/verify':
    'verifying an erasure request erases the owner’s account; another user’s id answers 404 and a wrong password 401 in services/retention/test/requests.spec.ts and e2e/privacy-rights.e2e.ts',
};

export interface CreationStep {
  param: string;
  /** The path up to and including the parameter: `/v1/uploads/:id`. */
  resource: string;
  create: ResourceCreator;
  /** How it is created, for the report: `POST /v1/uploads`, `custom` or `per-user`. */
  via: string;
  /** Set for a PER_USER_RESOURCES id: reads the owner's copy. */
  readOwn?: PerUserResource['read'];
}

export type ResourcePlan =
  | {
      kind: 'creatable';
      steps: CreationStep[];
      prepare?: (owner: ResourceOwner, params: Readonly<Record<string, string>>) => Promise<void>;
      /** The id names a per-user resource (PER_USER_RESOURCES): reads the owner's copy of the last such one. */
      readOwn?: PerUserResource['read'];
    }
  | { kind: 'skipped'; reason: string }
  | { kind: 'uncovered'; resource: string };

export function planResources(route: HttpRoute, routes: readonly HttpRoute[]): ResourcePlan {
  const unrepeatable = UNREPEATABLE_ROUTES[routeName(route)];
  if (unrepeatable !== undefined) return { kind: 'skipped', reason: unrepeatable };
  const steps: CreationStep[] = [];
  for (const param of pathParams(route.path)) {
    const resource = route.path.slice(0, route.path.indexOf(`:${param}`) + param.length + 1);
    const skipped = UNCREATABLE_RESOURCES[resource];
    if (skipped !== undefined) return { kind: 'skipped', reason: skipped };
    const perUser = PER_USER_RESOURCES[resource];
    if (perUser) {
      steps.push({ param, resource, create: perUser.create, via: 'per-user', readOwn: perUser.read });
      continue;
    }
    const custom = RESOURCE_CREATORS[resource];
    if (custom) {
      steps.push({ param, resource, create: custom, via: 'custom' });
      continue;
    }
    const collection = resource.slice(0, resource.lastIndexOf('/'));
    const creator = routes.find((candidate) => candidate.method === 'POST' && candidate.path === collection && candidate.auth !== 'public' && candidate.response !== undefined);
    if (!creator) return { kind: 'uncovered', resource };
    steps.push({
      param,
      resource,
      via: routeName(creator),
      create: async (owner, params) => createdId(creator, await owner.send(creator, exampleRequest(creator, { ...params }, owner.hints, owner.marker))),
    });
  }
  const prepare = ROUTE_PREPARATIONS[routeName(route)];
  const readOwn = steps.findLast((step) => step.readOwn)?.readOwn;
  return { kind: 'creatable', steps, ...(prepare ? { prepare } : {}), ...(readOwn ? { readOwn } : {}) };
}

/** Creates the owner's resources along the plan (then readies them for the route) and answers the path parameters naming them. */
export async function createResources(plan: Extract<ResourcePlan, { kind: 'creatable' }>, owner: ResourceOwner): Promise<Record<string, string>> {
  const params: Record<string, string> = {};
  for (const step of plan.steps) params[step.param] = await step.create(owner, params);
  await plan.prepare?.(owner, params);
  return params;
}
