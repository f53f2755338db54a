/**
 * Docker Compose variable interpolation, enough to check docker-compose.yml as a file:
 * `$$` (a literal `$`), `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:?message}`, `${VAR?message}`, `${VAR:+replacement}` and `${VAR+replacement}`.
 * Like Compose, it works on values after the YAML is parsed. Nested references inside a
 * default are not supported (the file uses none); an unterminated `${` is an error.
 */

/** A `${VAR:?…}` / `${VAR?…}` whose variable is missing: Compose refuses to start. */
export class MissingVariableError extends Error {
  override readonly name = 'MissingVariableError';
  constructor(readonly variable: string) {
    super(`${variable} is required by docker-compose.yml`);
  }
}

export interface VariableReference {
  readonly name: string;
  /** `:?` or `?`: Compose refuses to run without it. */
  readonly required: boolean;
}

const REFERENCE = /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*)|(\{))/g;

/** Substitutes every reference in `value` from `variables` (undefined = not set). */
export function interpolate(value: string, variables: Readonly<Record<string, string | undefined>>): string {
  return value.replace(REFERENCE, (whole: string, braced: string | undefined, operator: string | undefined, argument: string | undefined, bare: string | undefined, unterminated: string | undefined): string => {
    if (whole === '$$') return '$';
    if (unterminated !== undefined) throw new SyntaxError(`unterminated \${ in "${value}"`);
    const name = braced ?? bare ?? '';
    const current = variables[name];
    // With a colon (`:-`, `:?`, `:+`) an empty value counts as unset; without, only unset does.
    const set = current !== undefined && !(operator?.startsWith(':') === true && current === '') ? current : undefined;
    const kind = operator?.replace(':', '');
    if (kind === '-') return set ?? argument ?? '';
    if (kind === '?') {
      if (set === undefined) throw new MissingVariableError(name);
      return set;
    }
    if (kind === '+') return set === undefined ? '' : (argument ?? '');
    return current ?? '';
  });
}

/** The variables `value` refers to, and whether each is required. */
export function references(value: string): VariableReference[] {
  return [...value.matchAll(REFERENCE)]
    .filter(([whole]) => whole !== '$$' && whole !== '${')
    .map(([, braced, operator, , bare]) => ({ name: (braced ?? bare)!, required: operator === ':?' || operator === '?' }));
}

/** Every string in a parsed YAML document, interpolated (keys are left as they are, as Compose does). */
export function interpolateDocument<T>(document: T, variables: Readonly<Record<string, string | undefined>>): T {
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return interpolate(node, variables);
    if (Array.isArray(node)) return node.map(walk);
    if (node !== null && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, walk(value)]));
    return node;
  };
  return walk(document) as T;
}

/** The strings of a parsed YAML node, for collecting references. */
export function strings(node: unknown): string[] {
  if (typeof node === 'string') return [node];
  if (Array.isArray(node)) return node.flatMap(strings);
  if (node !== null && typeof node === 'object') return Object.values(node).flatMap(strings);
  return [];
}
