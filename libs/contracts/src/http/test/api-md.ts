import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// http/test/ → http/ → src/ → contracts/ → libs/ → the repository root.
export const REPO_ROOT = new URL('../../../../../', import.meta.url);
/** The public HTTP contract, kept in the repository so a fresh clone can test against it. */
export const API_MD_PATH = fileURLToPath(new URL('docs/api.md', REPO_ROOT));
/**
 * Where the contract originates: shared/ beside the clone, present in CI's checkout only.
 * `docs/api.md` is a byte-identical copy; a test compares the two wherever this file exists.
 */
export const SHARED_API_MD_PATH = fileURLToPath(new URL('../shared/API.md', REPO_ROOT));

export interface ApiMdRow {
  method: string;
  path: string;
  /** The first status in the success column (`200 / 503` → 200); absent where the column only describes the answer (the checkout page). */
  successStatus?: number;
  /** Fields named in the body column's braces; `?` marks an optional one. */
  bodyFields: Array<{ name: string; optional: boolean }>;
}

export function readApiMd(path = API_MD_PATH): string {
  // A missing file must fail the check, not skip it: the agreement is the point.
  if (!existsSync(path)) throw new Error(`API.md not found at ${path}`);
  return readFileSync(path, 'utf8');
}

/** The rows of the table under `## <section>`; throws if the section or its table is missing. */
export function parseApiTable(markdown: string, section: string): ApiMdRow[] {
  const lines = markdown.split(/\r?\n/);
  const start = lines.findIndex((line) => line.trim() === `## ${section}`);
  if (start < 0) throw new Error(`API.md has no "## ${section}" section`);
  const end = lines.findIndex((line, index) => index > start && line.startsWith('## '));
  const table = lines.slice(start + 1, end < 0 ? undefined : end).filter((line) => line.trim().startsWith('|'));
  const [header, , ...rows] = table.map(cells);
  if (!header || rows.length === 0) throw new Error(`API.md section "${section}" has no table rows`);
  const column = (name: string): number => header.findIndex((cell) => cell.toLowerCase() === name);
  const routeAt = column('method, path');
  const bodyAt = column('body');
  const successAt = column('success');
  if (routeAt < 0 || successAt < 0) throw new Error(`API.md section "${section}": the table needs "method, path" and "success" columns`);
  return rows.map((row) => {
    const [method, path] = (row[routeAt] ?? '').split(/\s+/);
    const status = /\b(\d{3})\b/.exec(row[successAt] ?? '');
    if (!method || !path) throw new Error(`API.md section "${section}": cannot read row | ${row.join(' | ')} |`);
    return { method, path, ...(status ? { successStatus: Number(status[1]) } : {}), bodyFields: bodyFields(bodyAt < 0 ? '' : (row[bodyAt] ?? '')) };
  });
}

function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((cell) => cell.trim());
}

function bodyFields(cell: string): ApiMdRow['bodyFields'] {
  const braces = /\{([^{}]*)\}/.exec(cell);
  if (!braces) return [];
  return braces[1]!
    .split(',')
    .map((field) => field.trim())
    .filter(Boolean)
    .map((field) => ({ name: field.replace(/\?$/, ''), optional: field.endsWith('?') }));
}
