import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * What a backup of the database holds: `pg_dump` (plain SQL, data as COPY blocks) of the
 * whole database, or of the schemas named. The operator's backup tool, so a test can show
 * what a backup taken at that moment could ever reveal.
 */
export async function pgDump(databaseUrl: string, options: { schemas?: string[]; dataOnly?: boolean } = {}): Promise<string> {
  const args = ['--no-owner', '--no-privileges', ...(options.dataOnly ? ['--data-only'] : []), ...(options.schemas ?? []).map((schema) => `--schema=${schema}`), `--dbname=${databaseUrl}`];
  const { stdout } = await run('/usr/bin/pg_dump', args, { maxBuffer: 512 * 1024 * 1024, encoding: 'utf8' });
  return stdout;
}

/** COPY's text format: `\N` is NULL; a backslash escapes itself, tab, newline and a few others. */
function unescapeCopyField(field: string): string | null {
  if (field === '\\N') return null;
  return field.replace(/\\(.)/g, (_match, char: string) => ({ b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' })[char] ?? char);
}

/** The rows of one table's COPY block in a plain dump, by column name (`schema.table`, as pg_dump writes it). */
export function copyRows(dump: string, table: string): Array<Record<string, string | null>> {
  const header = new RegExp(`^COPY ${table.replace('.', '\\.')} \\(([^)]*)\\) FROM stdin;$`, 'm').exec(dump);
  if (!header) throw new Error(`the dump has no COPY block for ${table}`);
  const columns = header[1]!.split(', ').map((column) => column.replace(/^"|"$/g, ''));
  const rest = dump.slice(header.index + header[0].length + 1);
  const block = rest.slice(0, rest.indexOf('\n\\.\n') + 1);
  return block
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => Object.fromEntries(line.split('\t').map((field, index) => [columns[index]!, unescapeCopyField(field)])));
}

/** A bytea value as pg_dump writes it (`\x0a1b…`, the default hex output). */
export function byteaOf(value: string | null | undefined): Buffer {
  if (!value?.startsWith('\\x')) throw new Error('not a hex bytea value');
  return Buffer.from(value.slice(2), 'hex');
}
