import { randomUUID } from 'node:crypto';
import type { z } from 'zod';

/**
 * A minimal valid value for a zod schema, so the route-table suite can send every route
 * a request that would succeed but for the token: required fields only, optional ones
 * added (one at a time, then all) only when a refinement needs them. Every generated
 * value is checked with the schema itself; when no valid value can be built, the error
 * names the schema path, and the fix is a hint (a value by field name) — never a silently
 * invalid request that a 400 would answer before the guard was tested.
 *
 * Reads zod 4's definition objects (`schema._zod.def`): the public API has no walker.
 */
export interface ExampleHints {
  /** Values by object key, used when they satisfy the field's schema (a password the account really has, say). */
  readonly fields?: Readonly<Record<string, unknown>>;
}

export class NoExampleError extends Error {
  override readonly name = 'NoExampleError';
}

interface CheckDef {
  check: string;
  minimum?: number;
  maximum?: number;
  length?: number;
  value?: number;
  inclusive?: boolean;
  format?: string;
  pattern?: RegExp;
}

interface SchemaDef {
  type: string;
  format?: string;
  pattern?: RegExp;
  checks?: Array<{ _zod: { def: CheckDef } }>;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  values?: unknown[];
  entries?: Record<string, string | number>;
  element?: z.ZodType;
  options?: z.ZodType[];
  items?: z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
  getter?: () => z.ZodType;
}

const defOf = (schema: z.ZodType): SchemaDef => (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;
const isOptional = (schema: z.ZodType): boolean => (schema as unknown as { _zod: { optin?: string } })._zod.optin === 'optional';
const checksOf = (def: SchemaDef): CheckDef[] => (def.checks ?? []).map((check) => check._zod.def);

/** Unique per call, so values with unique constraints (a username, an email) do not collide. */
const tag = (): string => randomUUID().replaceAll('-', '').slice(0, 10);

export function exampleOf(schema: z.ZodType, hints: ExampleHints = {}, path = '(root)'): unknown {
  const value = build(schema, hints, path);
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${[path, ...issue.path.map(String)].join('.')}: ${issue.message}`).join('; ');
    throw new NoExampleError(`no valid example for ${path}: ${issues} — add a hint for the field`);
  }
  return value;
}

function build(schema: z.ZodType, hints: ExampleHints, path: string): unknown {
  const def = defOf(schema);
  switch (def.type) {
    case 'string':
      return stringExample(def);
    case 'number':
      return numberExample(def);
    case 'bigint':
      return 1n;
    case 'boolean':
      return true;
    case 'date':
      return new Date();
    case 'null':
      return null;
    case 'undefined':
    case 'void':
      return undefined;
    case 'any':
    case 'unknown':
      return 'example';
    case 'literal':
      return def.values![0];
    case 'enum':
      return Object.values(def.entries!)[0];
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      return build(def.innerType!, hints, path);
    case 'lazy':
      return build(def.getter!(), hints, path);
    case 'pipe':
      return pipeExample(schema, def, hints, path);
    case 'array': {
      const minimum = checksOf(def).find((check) => check.check === 'min_length' || check.check === 'length_equals');
      const count = minimum?.minimum ?? minimum?.length ?? 0;
      return Array.from({ length: count }, (_unused, index) => exampleOf(def.element!, hints, `${path}[${index}]`));
    }
    case 'tuple':
      return def.items!.map((item, index) => exampleOf(item, hints, `${path}[${index}]`));
    case 'record':
      return {};
    case 'union':
      return firstValid(schema, def.options!.map((option) => () => build(option, hints, path)), path);
    case 'intersection':
      return { ...(build(def.left!, hints, path) as object), ...(build(def.right!, hints, path) as object) };
    case 'object':
      return objectExample(schema, def, hints, path);
    default:
      throw new NoExampleError(`no example for ${path}: zod type "${def.type}" is not generated — add a hint for the field`);
  }
}

/** Required fields; then each optional field alone; then all of them — the first that the whole schema (refinements included) accepts. */
function objectExample(schema: z.ZodType, def: SchemaDef, hints: ExampleHints, path: string): Record<string, unknown> {
  const shape = def.shape!;
  const field = (key: string): unknown => {
    const fieldPath = `${path}.${key}`;
    const hinted = hints.fields?.[key];
    if (hinted !== undefined && shape[key]!.safeParse(hinted).success) return hinted;
    return exampleOf(shape[key]!, hints, fieldPath);
  };
  const keys = Object.keys(shape);
  const required = keys.filter((key) => !isOptional(shape[key]!));
  const optional = keys.filter((key) => isOptional(shape[key]!));
  const withKeys = (chosen: string[]) => () => Object.fromEntries(chosen.map((key) => [key, field(key)]));
  const candidates = [withKeys(required), ...optional.map((key) => withKeys([...required, key])), withKeys(keys)];
  return firstValid(schema, candidates, path) as Record<string, unknown>;
}

/** A pipe checks its input with `in` and then `out`: build from `out` when it is a schema (an email behind a trim), else from `in`. */
function pipeExample(schema: z.ZodType, def: SchemaDef, hints: ExampleHints, path: string): unknown {
  const candidates = defOf(def.out!).type === 'transform' ? [() => build(def.in!, hints, path)] : [() => build(def.out!, hints, path), () => build(def.in!, hints, path)];
  return firstValid(schema, candidates, path);
}

function firstValid(schema: z.ZodType, candidates: Array<() => unknown>, path: string): unknown {
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      const value = candidate();
      if (schema.safeParse(value).success) return value;
      failures.push('refused by the schema');
    } catch (error) {
      failures.push(String(error instanceof Error ? error.message : error));
    }
  }
  throw new NoExampleError(`no valid example for ${path} (${failures.join('; ')}) — add a hint for the field`);
}

function stringExample(def: SchemaDef): string {
  const checks = checksOf(def);
  const format = def.format ?? checks.find((check) => check.check === 'string_format' && check.format !== 'regex')?.format;
  switch (format) {
    case 'email':
      return `rt.${tag()}@example.com`;
    case 'uuid':
    case 'guid':
      return randomUUID();
    case 'datetime':
      return new Date().toISOString();
    case 'date':
      return new Date().toISOString().slice(0, 10);
    case 'time':
      return '12:00:00';
    case 'url':
      return `https://example.com/${tag()}`;
    case undefined:
    default:
      break;
  }
  const minimum = Math.max(0, ...checks.filter((check) => check.check === 'min_length').map((check) => check.minimum!));
  const maximum = Math.min(Number.MAX_SAFE_INTEGER, ...checks.filter((check) => check.check === 'max_length').map((check) => check.maximum!));
  const exact = checks.find((check) => check.check === 'length_equals')?.length;
  // Letters and digits, starting with a letter: what handle-like patterns accept.
  const base = `rt${tag()}`;
  const length = exact ?? Math.min(Math.max(base.length, minimum), maximum);
  return base.padEnd(length, 'x').slice(0, length);
}

function numberExample(def: SchemaDef): number {
  let value = 1;
  for (const check of checksOf(def)) {
    if (check.check === 'greater_than' && !(value > check.value! || (check.inclusive && value === check.value))) value = check.inclusive ? check.value! : Math.floor(check.value!) + 1;
    if (check.check === 'less_than' && !(value < check.value! || (check.inclusive && value === check.value))) value = check.inclusive ? check.value! : Math.ceil(check.value!) - 1;
  }
  return value;
}
