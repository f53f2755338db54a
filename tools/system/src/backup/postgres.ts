import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import pg from 'pg';
import { SERVICE_MANIFEST } from '@homiwork/system-runner';

const run = promisify(execFile);

/** The table of per-user data keys (libs/data-keys) in each schema that seals user data. */
export const DATA_KEYS_TABLE = 'user_data_keys';

/** Every schema a service of the manifest owns. */
export const SERVICE_SCHEMAS = SERVICE_MANIFEST.filter((entry) => entry.needs.includes('postgres')).map((entry) => entry.name);

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** Service schemas that exist in the database, and which of them hold a data-key table. */
export async function inspectSchemas(pool: pg.Pool, serviceSchemas: readonly string[]): Promise<{ schemas: string[]; keyTables: string[] }> {
  const { rows } = await pool.query<{ schema: string; keys: boolean }>(
    `SELECT n.nspname AS schema, EXISTS (SELECT 1 FROM pg_tables t WHERE t.schemaname = n.nspname AND t.tablename = $2) AS keys
       FROM pg_namespace n WHERE n.nspname = ANY($1::text[]) ORDER BY 1`,
    [serviceSchemas, DATA_KEYS_TABLE],
  );
  return { schemas: rows.map((row) => row.schema), keyTables: rows.filter((row) => row.keys).map((row) => `${row.schema}.${DATA_KEYS_TABLE}`) };
}

/**
 * Runs `work` with an exported snapshot: every pg_dump given the snapshot id sees the
 * database as of one instant, so the schema dumps and the key dump agree with each other.
 * Answers the snapshot's time (the database's clock at its start).
 */
export async function withSnapshot<T>(databaseUrl: string, work: (snapshot: string, takenAt: Date) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'backup' });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows } = await client.query<{ snapshot: string; taken_at: Date }>('SELECT pg_export_snapshot() AS snapshot, now() AS taken_at');
    const result = await work(rows[0]!.snapshot, rows[0]!.taken_at);
    await client.query('COMMIT');
    return result;
  } finally {
    await client.end();
  }
}

/** One schema in pg_dump's custom format, its data-key table's rows left out (they go in their own, short-lived file). */
export async function dumpSchema(databaseUrl: string, snapshot: string, schema: string, file: string, keyTables: readonly string[]): Promise<void> {
  const excluded = keyTables.filter((table) => table.startsWith(`${schema}.`)).map((table) => `--exclude-table-data=${table}`);
  await run('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', `--snapshot=${snapshot}`, `--schema=${schema}`, ...excluded, `--file=${file}`, `--dbname=${databaseUrl}`]);
}

/** The rows of every data-key table, and nothing else. */
export async function dumpDataKeys(databaseUrl: string, snapshot: string, keyTables: readonly string[], file: string): Promise<void> {
  await run('pg_dump', ['--format=custom', '--data-only', `--snapshot=${snapshot}`, ...keyTables.map((table) => `--table=${table}`), `--file=${file}`, `--dbname=${databaseUrl}`]);
}

const COPY_HEADER = /^COPY \S+ \(([^)]*)\) FROM stdin;$/;

/**
 * Feeds pg_restore's SQL for a dump to psql in one transaction, `before` first; `keep`
 * decides, line by line, which rows of a COPY block go in. Nothing of the dump is applied
 * unless all of it is.
 */
async function restoreThroughPsql(databaseUrl: string, file: string, options: { before: string; dataOnly?: boolean; keep?: (row: string[], columns: string[]) => boolean }): Promise<void> {
  const restore = spawn('pg_restore', ['--no-owner', '--no-privileges', ...(options.dataOnly ? ['--data-only'] : []), '--file=-', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const psql = spawn('psql', ['--no-psqlrc', '--quiet', '--single-transaction', '--set=ON_ERROR_STOP=1', `--dbname=${databaseUrl}`], { stdio: ['pipe', 'ignore', 'pipe'] });
  const errors: string[] = [];
  restore.stderr.on('data', (chunk: Buffer) => errors.push(chunk.toString('utf8')));
  psql.stderr.on('data', (chunk: Buffer) => errors.push(chunk.toString('utf8')));
  const exited = (child: typeof restore | typeof psql) => new Promise<number | null>((resolve) => child.on('close', resolve));
  const restoreExit = exited(restore);
  const psqlExit = exited(psql);
  psql.stdin.on('error', () => undefined); // psql stopped early: its exit code and stderr tell why
  psql.stdin.write(`${options.before}\n`);
  let columns: string[] | null = null;
  for await (const line of createInterface({ input: restore.stdout, crlfDelay: Infinity })) {
    if (columns && line === '\\.') columns = null;
    else if (columns && options.keep && !options.keep(line.split('\t'), columns)) continue;
    else if (COPY_HEADER.test(line)) columns = COPY_HEADER.exec(line)![1]!.split(', ').map((column) => column.replace(/^"|"$/g, ''));
    if (!psql.stdin.write(`${line}\n`)) await new Promise((resolve) => psql.stdin.once('drain', resolve));
  }
  psql.stdin.end();
  const [restoreCode, psqlCode] = await Promise.all([restoreExit, psqlExit]);
  if (restoreCode !== 0 || psqlCode !== 0) throw new Error(`restoring ${file} failed (pg_restore ${restoreCode}, psql ${psqlCode}): ${errors.join('').slice(0, 2_000)}`);
}

/** Replaces a schema by its dump: dropped and recreated in one transaction. */
export function restoreSchema(databaseUrl: string, schema: string, file: string): Promise<void> {
  return restoreThroughPsql(databaseUrl, file, { before: `DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE;` });
}

/**
 * Loads the data-key rows into the (empty, just restored) key tables, except the rows of
 * `erasedUserIds`: an erased user's key never enters the restored database, not even
 * until the re-applied purge would delete it again.
 */
export function restoreDataKeys(databaseUrl: string, file: string, keyTables: readonly string[], erasedUserIds: ReadonlySet<string>): Promise<void> {
  const truncate = keyTables.map((table) => `TRUNCATE ${table.split('.').map(quoteIdent).join('.')};`).join('\n');
  return restoreThroughPsql(databaseUrl, file, { before: truncate, dataOnly: true, keep: (row, columns) => !erasedUserIds.has(row[columns.indexOf('user_id')] ?? '') });
}
