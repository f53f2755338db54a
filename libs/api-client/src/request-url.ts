/**
 * Fills `:name` segments and appends the query. Every parameter must be used exactly once:
 * a misspelt name would otherwise reach the server as a literal `:id` or vanish silently.
 */
export function requestUrl(baseUrl: string, path: string, params: Record<string, string> = {}, query: Record<string, string | undefined> = {}): string {
  const unused = new Set(Object.keys(params));
  const filled = path.replace(/:([A-Za-z0-9_]+)/g, (_match, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`${path}: path parameter "${name}" is missing`);
    unused.delete(name);
    return encodeURIComponent(value);
  });
  if (unused.size > 0) throw new Error(`${path}: no path parameter named ${[...unused].map((name) => `"${name}"`).join(', ')}`);
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) search.append(key, value);
  const suffix = search.size > 0 ? `?${search.toString()}` : '';
  return `${baseUrl.replace(/\/+$/, '')}${filled}${suffix}`;
}
