import type { HttpRoute } from '@homiwork/contracts';
import { createdId, exampleRequest, pathParams, routeName, type RouteAnswer, type RouteRequest } from './route-request.js';
import type { ExampleHints } from './schema-example.js';

/**
 * How the route-table suite gets a resource of one user for every id in a path, so it can
 * ask for it as another user. By default from the route table itself: the resource
 * `/v1/uploads/:id` is created by `POST /v1/uploads` (its collection), and a nested one
 * (`/v1/assistants/:assistantId/chats/:id`) by creating each parent first. A resource no
 * route creates (a generation's content, say) needs an entry in RESOURCE_CREATORS, or a
 * reason in UNCREATABLE_RESOURCES until it can be made; a route with neither fails the suite.
 */
export interface ResourceOwner {
  /** Sends a request with the owner's valid token. */
  send(route: HttpRoute, request: RouteRequest): Promise<RouteAnswer>;
  hints: ExampleHints;
  /** Written into created files, so a leak can be searched for. */
  marker: string;
}

/** Makes one resource of the owner and answers its id; `params` holds the ids of its parents. */
export type ResourceCreator = (owner: ResourceOwner, params: Readonly<Record<string, string>>) => Promise<string>;

/** Keyed by the resource's path up to its id (`/v1/contents/:id`): for resources that no `POST` to their collection creates. */
export const RESOURCE_CREATORS: Readonly<Record<string, ResourceCreator>> = {};

/** Keyed like RESOURCE_CREATORS: resources that cannot be created through the API yet, and why. Reported as skipped. */
export const UNCREATABLE_RESOURCES: Readonly<Record<string, string>> = {};

export interface CreationStep {
  param: string;
  /** The path up to and including the parameter: `/v1/uploads/:id`. */
  resource: string;
  create: ResourceCreator;
  /** How it is created, for the report: `POST /v1/uploads` or `custom`. */
  via: string;
}

export type ResourcePlan = { kind: 'creatable'; steps: CreationStep[] } | { kind: 'skipped'; reason: string } | { kind: 'uncovered'; resource: string };

export function planResources(route: HttpRoute, routes: readonly HttpRoute[]): ResourcePlan {
  const steps: CreationStep[] = [];
  for (const param of pathParams(route.path)) {
    const resource = route.path.slice(0, route.path.indexOf(`:${param}`) + param.length + 1);
    const skipped = UNCREATABLE_RESOURCES[resource];
    if (skipped !== undefined) return { kind: 'skipped', reason: skipped };
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
  return { kind: 'creatable', steps };
}

/** Creates the owner's resources along the plan and answers the path parameters naming them. */
export async function createResources(plan: Extract<ResourcePlan, { kind: 'creatable' }>, owner: ResourceOwner): Promise<Record<string, string>> {
  const params: Record<string, string> = {};
  for (const step of plan.steps) params[step.param] = await step.create(owner, params);
  return params;
}
