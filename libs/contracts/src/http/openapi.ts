import { z } from 'zod';
import { ErrorResponse, type HttpRoute } from './http-route.js';

export type JsonSchema = Record<string, unknown>;
export type OpenApiMethod = 'get' | 'post' | 'patch' | 'delete';

export interface OpenApiParameter {
  name: string;
  in: 'path';
  required: true;
  schema: JsonSchema;
}

export interface OpenApiResponse {
  description: string;
  content?: Record<string, { schema: JsonSchema }>;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
}

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  parameters?: OpenApiParameter[];
  requestBody?: { required: true; description?: string; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, OpenApiResponse>;
  /** `[]` on public routes: stated explicitly, so a later document-wide default cannot lock them. */
  security: Array<Record<string, string[]>>;
}

/** The part of OpenAPI 3.1 this project emits; not a general model of the format. */
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string };
  jsonSchemaDialect: string;
  tags: Array<{ name: string }>;
  paths: Record<string, Partial<Record<OpenApiMethod, OpenApiOperation>>>;
  components: {
    schemas: Record<string, JsonSchema>;
    securitySchemes: Record<string, { type: 'http'; scheme: 'bearer'; bearerFormat: string }>;
  };
}

const DIALECT = 'https://json-schema.org/draft/2020-12/schema';
const BEARER = 'bearerAuth';
const ERROR_REF = { $ref: '#/components/schemas/ErrorResponse' };
const SUCCESS_TEXT: Record<HttpRoute['successStatus'], string> = { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content' };

/** Describes the route table; the gateway serves the result at /docs/json, so it is the table that clients see. */
export function buildOpenApiDocument(routes: readonly HttpRoute[], info: { title: string; version: string }): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    const method = route.method.toLowerCase() as OpenApiMethod;
    const item = (paths[path] ??= {});
    // Two definitions of one operation would silently overwrite each other here.
    if (item[method]) throw new Error(`${route.method} ${route.path} is defined twice`);
    item[method] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: { ...info },
    jsonSchemaDialect: DIALECT,
    tags: [...new Set(routes.map((route) => route.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: { ErrorResponse: jsonSchema(ErrorResponse, 'output') },
      securitySchemes: { [BEARER]: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
  };
}

/** `POST /v1/uploads/:id/file` → `postV1UploadsByIdFile`: readable, and unchanged as long as the route is. */
export function operationId(route: Pick<HttpRoute, 'method' | 'path'>): string {
  const words = route.path
    .split('/')
    .filter(Boolean)
    .flatMap((segment) => (segment.startsWith(':') ? ['by', ...segment.slice(1).split(/[^A-Za-z0-9]+/)] : segment.split(/[^A-Za-z0-9]+/)))
    .filter(Boolean);
  return route.method.toLowerCase() + words.map((word) => word[0]!.toUpperCase() + word.slice(1)).join('');
}

function operation(route: HttpRoute): OpenApiOperation {
  const params = pathParams(route.path);
  return {
    operationId: operationId(route),
    summary: route.summary,
    ...(route.auth === 'operator' ? { description: 'Requires the `operator` role.' } : {}),
    tags: [route.tag],
    ...(params.length > 0 ? { parameters: params.map(pathParameter) } : {}),
    ...requestBody(route),
    ...(route.multipartField
      ? {
          requestBody: {
            required: true,
            content: { 'multipart/form-data': { schema: { type: 'object', required: [route.multipartField], properties: { [route.multipartField]: { type: 'string', format: 'binary' } } } } },
          },
        }
      : {}),
    responses: { ...successResponse(route), ...errorResponses(route.errors) },
    security: route.auth === 'public' ? [] : [{ [BEARER]: [] }],
  };
}

function requestBody(route: HttpRoute): Pick<OpenApiOperation, 'requestBody'> {
  if (route.bodyFormat === 'raw') {
    return {
      requestBody: {
        required: true,
        description: 'Passed on byte for byte: the signature covers the exact body received',
        content: { 'application/json': { schema: route.body ? jsonSchema(route.body, 'input') : {} } },
      },
    };
  }
  if (!route.body) return {};
  const mediaType = route.bodyFormat === 'form' ? 'application/x-www-form-urlencoded' : 'application/json';
  return { requestBody: { required: true, content: { [mediaType]: { schema: jsonSchema(route.body, 'input') } } } };
}

function successResponse(route: HttpRoute): Record<string, OpenApiResponse> {
  const description = SUCCESS_TEXT[route.successStatus];
  if (!route.response) return { [route.successStatus]: { description } };
  if (route.binaryResponse) return { [route.successStatus]: { description, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } } };
  if (route.htmlResponse) return { [route.successStatus]: { description, content: { 'text/html': { schema: { type: 'string' } } } } };
  return { [route.successStatus]: { description, content: { 'application/json': { schema: jsonSchema(route.response, 'output') } } } };
}

/** One response per status; several codes can share a status, so the description lists them all. */
function errorResponses(errors: HttpRoute['errors']): Record<string, OpenApiResponse> {
  const codesByStatus = new Map<number, string[]>();
  for (const [status, code] of errors) {
    const codes = codesByStatus.get(status) ?? [];
    if (!codes.includes(code)) codes.push(code);
    codesByStatus.set(status, codes);
  }
  const responses: Record<string, OpenApiResponse> = {};
  for (const [status, codes] of [...codesByStatus].sort(([a], [b]) => a - b)) {
    responses[status] = {
      description: `Error code: ${codes.map((code) => `\`${code}\``).join(', ')}`,
      content: { 'application/json': { schema: ERROR_REF } },
      ...(status === 429 ? { headers: { 'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer', minimum: 0 } } } } : {}),
    };
  }
  return responses;
}

function pathParams(path: string): string[] {
  return path
    .split('/')
    .filter((segment) => segment.startsWith(':'))
    .map((segment) => segment.slice(1));
}

function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

// Ids are UUIDs (API.md conventions); other parameters, such as a billing provider's name, are free text.
function pathParameter(name: string): OpenApiParameter {
  const isId = name === 'id' || name.endsWith('Id');
  return { name, in: 'path', required: true, schema: isId ? { type: 'string', format: 'uuid' } : { type: 'string' } };
}

// The document states the dialect once; a `$schema` inside every embedded schema would only repeat it.
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  delete json.$schema;
  return json;
}
