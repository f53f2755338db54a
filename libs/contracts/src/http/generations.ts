import { z } from 'zod';
import {
  CreateGenerationRequest,
  Generation,
  GenerationAccepted,
  GetContentRoute,
  ListContentsRoute,
  RestoreContentRoute,
} from '../rpc/generation.js';
import { COMMON_ERRORS as E, defineHttpRoute } from './http-route.js';

export const CreateGeneration = defineHttpRoute({
  method: 'POST',
  path: '/v1/generations',
  summary: 'Ask for a song, image, poem, text or video; it runs in the background and its energy is reserved now',
  tag: 'generations',
  auth: 'user',
  rateLimit: 'generation',
  body: CreateGenerationRequest,
  successStatus: 202,
  response: GenerationAccepted,
  errors: [
    E.validation,
    E.invalidJson,
    E.unauthorized,
    [402, 'insufficient_energy'],
    [403, 'processing_restricted'],
    [404, 'upload_not_found'],
    [422, 'content_rejected'],
    [422, 'unsupported_input'],
    [422, 'inputs_too_large'],
    E.rateLimited,
    E.unavailable,
  ],
});

export const GetGeneration = defineHttpRoute({
  method: 'GET',
  path: '/v1/generations/:id',
  summary: 'A generation job: queued, running, succeeded (with its content id) or failed (with the reason)',
  tag: 'generations',
  auth: 'user',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: Generation,
  errors: [E.unauthorized, E.notFound, E.rateLimited],
});

export const ListContents = defineHttpRoute({
  method: 'GET',
  path: '/v1/contents',
  summary: 'The caller’s generated content; `?deleted=true` lists the trash (restorable for 7 days)',
  tag: 'contents',
  auth: 'user',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: ListContentsRoute.response,
  errors: [E.validation, E.unauthorized, E.rateLimited],
});

export const GetContent = defineHttpRoute({
  method: 'GET',
  path: '/v1/contents/:id',
  summary: 'One item’s metadata, with the date it will be deleted (null while Prime keeps it)',
  tag: 'contents',
  auth: 'user',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: GetContentRoute.response,
  errors: [E.unauthorized, E.notFound, E.rateLimited],
});

export const GetContentFile = defineHttpRoute({
  method: 'GET',
  path: '/v1/contents/:id/file',
  summary: 'The content’s bytes (or, with `?redirect=true`, a 302 to a signed URL valid for at most 15 minutes)',
  tag: 'contents',
  auth: 'user',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: z.instanceof(Uint8Array),
  binaryResponse: true,
  errors: [E.unauthorized, E.notFound, E.rateLimited],
});

export const DeleteContent = defineHttpRoute({
  method: 'DELETE',
  path: '/v1/contents/:id',
  summary: 'Move content to the trash (restorable for 7 days, then removed); the uploads it was made from are deleted now',
  tag: 'contents',
  auth: 'user',
  rateLimit: 'write',
  body: undefined,
  successStatus: 204,
  response: undefined,
  errors: [E.unauthorized, E.notFound, E.rateLimited],
});

export const RestoreContent = defineHttpRoute({
  method: 'POST',
  path: '/v1/contents/:id/restore',
  summary: 'Take content back out of the trash, within 7 days of its deletion',
  tag: 'contents',
  auth: 'user',
  rateLimit: 'write',
  body: undefined,
  successStatus: 200,
  response: RestoreContentRoute.response,
  errors: [E.unauthorized, E.notFound, E.rateLimited],
});

export const GENERATION_ROUTES = [CreateGeneration, GetGeneration, ListContents, GetContent, GetContentFile, DeleteContent, RestoreContent] as const;
