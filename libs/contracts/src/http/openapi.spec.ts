import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineHttpRoute, type HttpRoute } from './http-route.js';
import { HTTP_ROUTES } from './index.js';
import { buildOpenApiDocument, operationId, type OpenApiDocument, type OpenApiMethod, type OpenApiOperation } from './openapi.js';
import { API_MD_PATH, parseApiTable, readApiMd, REPO_ROOT, SHARED_API_MD_PATH } from './test/api-md.js';

/** API.md sections whose routes the table already serves; add one as its routes land. */
const CHECKED_SECTIONS = ['Health', 'Accounts', 'Uploads', 'Generations and content', 'Billing'] as const;

const doc = buildOpenApiDocument(HTTP_ROUTES, { title: 'Homiwork API', version: '1.0.0' });

function find(document: OpenApiDocument, method: string, path: string): OpenApiOperation | undefined {
  return document.paths[path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')]?.[method.toLowerCase() as OpenApiMethod];
}

function bodySchema(op: OpenApiOperation | undefined): { properties?: Record<string, unknown>; required?: string[] } | undefined {
  return op?.requestBody?.content['application/json']?.schema;
}

describe('buildOpenApiDocument', () => {
  it('describes every route with its method, path and success status', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toEqual({ title: 'Homiwork API', version: '1.0.0' });
    for (const route of HTTP_ROUTES) {
      const op = find(doc, route.method, route.path);
      expect(op, `${route.method} ${route.path}`).toBeDefined();
      expect(op!.summary).toBe(route.summary);
      expect(op!.tags).toEqual([route.tag]);
      expect(Object.keys(op!.responses)).toContain(String(route.successStatus));
    }
    const count = Object.values(doc.paths).reduce((sum, item) => sum + Object.keys(item).length, 0);
    expect(count).toBe(HTTP_ROUTES.length);
  });

  it('gives each operation a unique id derived from method and path', () => {
    const ids = HTTP_ROUTES.map((route) => find(doc, route.method, route.path)!.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(find(doc, 'POST', '/v1/auth/password-reset/confirm')!.operationId).toBe('postV1AuthPasswordResetConfirm');
    expect(operationId({ method: 'GET', path: '/v1/uploads/:id/file' })).toBe('getV1UploadsByIdFile');
  });

  it('requires the fields a body requires, from the input side of the schema', () => {
    const register = bodySchema(find(doc, 'POST', '/v1/auth/register'));
    expect(register?.required).toEqual(expect.arrayContaining(['email', 'username', 'password', 'ageConfirmed']));
    expect(register?.properties).not.toHaveProperty('$schema');
    const update = bodySchema(find(doc, 'PATCH', '/v1/me'));
    expect(update?.properties).toHaveProperty('email');
    expect(update?.required ?? []).toEqual([]);
    expect(find(doc, 'GET', '/v1/me')!.requestBody).toBeUndefined();
  });

  it('answers 204 without content and other successes with the response schema', () => {
    expect(find(doc, 'POST', '/v1/auth/logout')!.responses['204']).toEqual({ description: 'No Content' });
    const me = find(doc, 'GET', '/v1/me')!.responses['200']!.content!['application/json']!.schema as { required: string[] };
    expect(me.required).toEqual(expect.arrayContaining(['id', 'email', 'username', 'createdAt', 'prime', 'energy']));
  });

  it('documents every error status with its codes and the shared error body', () => {
    const register = find(doc, 'POST', '/v1/auth/register')!;
    expect(register.responses['409']!.description).toContain('email_taken');
    expect(register.responses['409']!.description).toContain('username_taken');
    expect(register.responses['400']!.description).toContain('weak_password');
    expect(register.responses['409']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/ErrorResponse' });
    expect(register.responses['429']!.headers).toHaveProperty('Retry-After');
    expect(doc.components.schemas.ErrorResponse).toMatchObject({ required: ['error'] });
  });

  it('asks for a bearer token on user and operator routes only', () => {
    expect(doc.components.securitySchemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    for (const route of HTTP_ROUTES) {
      const op = find(doc, route.method, route.path)!;
      expect(op.security, `${route.method} ${route.path}`).toEqual(route.auth === 'public' ? [] : [{ bearerAuth: [] }]);
    }
  });

  it('turns :params into {params}, uuid-typed when they name an id', () => {
    const route = (path: string): HttpRoute =>
      defineHttpRoute({ method: 'POST', path, summary: 's', tag: 't', auth: 'operator', rateLimit: 'write', body: undefined, successStatus: 204, response: undefined, errors: [] });
    const adHoc = buildOpenApiDocument([route('/v1/admin/users/:id/block'), route('/v1/billing/webhooks/:provider')], { title: 't', version: '0' });
    const block = adHoc.paths['/v1/admin/users/{id}/block']?.post;
    expect(block?.parameters).toEqual([{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }]);
    expect(block?.security).toEqual([{ bearerAuth: [] }]);
    expect(adHoc.paths['/v1/billing/webhooks/{provider}']?.post?.parameters?.[0]?.schema).toEqual({ type: 'string' });
  });

  it('describes an HTML page as text/html, a form post as urlencoded and a raw body as JSON passed on unparsed', () => {
    const page = find(doc, 'GET', '/v1/billing/checkout/:orderId')!;
    expect(page.responses['200']!.content).toEqual({ 'text/html': { schema: { type: 'string' } } });
    expect(page.security).toEqual([]);
    const confirm = find(doc, 'POST', '/v1/billing/checkout/:orderId')!;
    expect(Object.keys(confirm.requestBody!.content)).toEqual(['application/x-www-form-urlencoded']);
    expect(confirm.requestBody!.content['application/x-www-form-urlencoded']!.schema).toMatchObject({ required: ['action'], properties: { action: { enum: ['confirm', 'cancel'] } } });
    expect(confirm.responses['200']!.content).toHaveProperty('text/html');
    const webhook = find(doc, 'POST', '/v1/billing/webhooks/:provider')!;
    expect(webhook.requestBody).toMatchObject({ required: true, content: { 'application/json': { schema: {} } } });
    expect(webhook.requestBody!.description).toMatch(/byte for byte/);
    expect(webhook.responses['200']!.content).toHaveProperty('application/json');
  });

  it('refuses a route defined twice rather than dropping one', () => {
    const live = HTTP_ROUTES[0]!;
    expect(() => buildOpenApiDocument([live, { ...live, summary: 'again' }], { title: 't', version: '0' })).toThrow(/defined twice/);
  });

  it('embeds request schemas as their input shape', () => {
    const trimmed = defineHttpRoute({
      method: 'POST', path: '/x', summary: 's', tag: 't', auth: 'public', rateLimit: 'write',
      body: z.object({ n: z.string().transform(Number) }), successStatus: 200, response: z.object({ n: z.number() }), errors: [],
    });
    const op = buildOpenApiDocument([trimmed], { title: 't', version: '0' }).paths['/x']!.post!;
    expect(bodySchema(op)?.properties).toEqual({ n: { type: 'string' } });
    expect(op.responses['200']!.content!['application/json']!.schema).toMatchObject({ properties: { n: { type: 'number' } } });
  });
});

describe('the route table agrees with docs/api.md', () => {
  it('reads the contract from inside the repository', () => {
    expect(existsSync(new URL('nx.json', REPO_ROOT)), 'REPO_ROOT must be the repository root').toBe(true);
    expect(API_MD_PATH.startsWith(fileURLToPath(REPO_ROOT)), `${API_MD_PATH} must lie inside the repository`).toBe(true);
    expect(() => readApiMd()).not.toThrow();
  });

  for (const section of CHECKED_SECTIONS) {
    it(`serves every "${section}" route with its status and body fields`, () => {
      const rows = parseApiTable(readApiMd(), section);
      for (const row of rows) {
        const where = `${section}: ${row.method} ${row.path}`;
        const route = HTTP_ROUTES.find((candidate) => candidate.method === row.method && candidate.path === row.path);
        expect(route, `${where} is missing from HTTP_ROUTES`).toBeDefined();
        // A row that describes its answer in words (the checkout page) names no status to compare.
        if (row.successStatus !== undefined) expect(route!.successStatus, where).toBe(row.successStatus);
        const schema = bodySchema(find(doc, row.method, row.path));
        // "multipart/form-data, field `file`" is a multipart route, not a JSON body; a raw body ("provider's signed payload") has no fields to name.
        if (route!.multipartField || route!.bodyFormat === 'raw') continue;
        for (const field of row.bodyFields) {
          expect(schema?.properties, `${where}: body field ${field.name}`).toHaveProperty(field.name);
          const required = schema?.required ?? [];
          if (field.optional) expect(required, `${where}: ${field.name} should be optional`).not.toContain(field.name);
          else expect(required, `${where}: ${field.name} should be required`).toContain(field.name);
        }
      }
    });
  }
});

// docs/api.md is a copy of the shared contract; where the original sits beside the clone
// (CI's checkout), the copy must not drift from it. A fresh clone has only the copy.
describe('docs/api.md matches ../shared/API.md', () => {
  const shared = existsSync(SHARED_API_MD_PATH);
  it.skipIf(!shared)(
    shared ? 'is byte-identical to the shared contract' : `skipped: ${SHARED_API_MD_PATH} does not exist (no shared/ folder beside this clone)`,
    () => {
      const copy = readFileSync(API_MD_PATH);
      const original = readFileSync(SHARED_API_MD_PATH);
      if (copy.equals(original)) return;
      const copyLines = copy.toString('utf8').split('\n');
      const originalLines = original.toString('utf8').split('\n');
      let line = 0;
      while (copyLines[line] === originalLines[line]) line += 1;
      expect.fail(
        `docs/api.md differs from ../shared/API.md from line ${line + 1} (copy: ${JSON.stringify(copyLines[line])}, shared: ${JSON.stringify(originalLines[line])}); copy the shared file over docs/api.md, then update the route table`,
      );
    },
  );
});

describe('parseApiTable', () => {
  const markdown = [
    '## Things',
    '| method, path | body | success |',
    '|---|---|---|',
    '| POST /v1/things/:id | `{name, note?}` (free text) | 201 `{id}`; 409 |',
    '| GET /v1/things | | 200 / 503 |',
    '## Other',
    '| method, path | success |',
    '|---|---|',
    '| GET /other | 200 |',
  ].join('\n');

  it('reads method, path, first status and the braced body fields of one section', () => {
    expect(parseApiTable(markdown, 'Things')).toEqual([
      { method: 'POST', path: '/v1/things/:id', successStatus: 201, bodyFields: [{ name: 'name', optional: false }, { name: 'note', optional: true }] },
      { method: 'GET', path: '/v1/things', successStatus: 200, bodyFields: [] },
    ]);
    expect(parseApiTable(markdown, 'Other')).toEqual([{ method: 'GET', path: '/other', successStatus: 200, bodyFields: [] }]);
  });

  it('reads a row whose success column names no status, without one', () => {
    const page = ['## Pages', '| method, path | body | success |', '|---|---|---|', '| GET /v1/page/:id | | an HTML page (development only) |'].join('\n');
    expect(parseApiTable(page, 'Pages')).toEqual([{ method: 'GET', path: '/v1/page/:id', bodyFields: [] }]);
  });

  it('fails on a missing section or file instead of checking nothing', () => {
    expect(() => parseApiTable(markdown, 'Missing')).toThrow(/no "## Missing" section/);
    expect(() => readApiMd('/nonexistent/shared/API.md')).toThrow(/API.md not found at \/nonexistent/);
  });
});
