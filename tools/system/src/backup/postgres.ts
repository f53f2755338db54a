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

/**
 * The libpq environment for DATABASE_URL: the client tools get the connection from it,
 * never from argv, where any user of the machine could read the password (`ps`).
 */
export function libpqEnv(databaseUrl: string): NodeJS.ProcessEnv {
  const url = new URL(databaseUrl);
  const params = url.searchParams;
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, PGAPPNAME: 'backup' };
  const set = (name: string, value: string | null | undefined): void => {
    if (value) env[name] = value;
  };
  // A socket directory is written percent-encoded in the host (`postgres://%2Fvar%2Frun%2Fpostgresql/db`).
  set('PGHOST', params.get('host') ?? decodeURIComponent(url.hostname.replace(/^\[|\]$/g, '')));
  set('PGPORT', params.get('port') ?? url.port);
  set('PGUSER', decodeURIComponent(url.username) || params.get('user'));
  set('PGPASSWORD', decodeURIComponent(url.password) || params.get('password'));
  set('PGDATABASE', decodeURIComponent(url.pathname.replace(/^\//, '')) || params.get('dbname'));
  for (const [name, value] of params) {
    if (CONNECTION_PARAMETERS_SET_ABOVE.has(name)) continue;
    const variable = LIBPQ_ENVIRONMENT[name];
    // The tools must reach the database exactly as the services do, or not at all.
    if (variable === undefined) throw new Error(`DATABASE_URL parameter "${name}" has no libpq environment variable; the client tools cannot honour it`);
    set(variable, value);
  }
  return env;
}

/** Set from the URL's parts above; `application_name` is the tools' own (PGAPPNAME), which the check for connected services reads. */
const CONNECTION_PARAMETERS_SET_ABOVE: ReadonlySet<string> = new Set(['host', 'port', 'user', 'password', 'dbname', 'application_name']);

/** Connection-string parameters and the libpq environment variables that carry them (libpq's "Environment Variables"). */
const LIBPQ_ENVIRONMENT: Readonly<Record<string, string>> = {
  sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
  sslcrl: 'PGSSLCRL',
  sslcompression: 'PGSSLCOMPRESSION',
  ssl_min_protocol_version: 'PGSSLMINPROTOCOLVERSION',
  ssl_max_protocol_version: 'PGSSLMAXPROTOCOLVERSION',
  requiressl: 'PGREQUIRESSL',
  gssencmode: 'PGGSSENCMODE',
  channel_binding: 'PGCHANNELBINDING',
  options: 'PGOPTIONS',
  connect_timeout: 'PGCONNECT_TIMEOUT',
  target_session_attrs: 'PGTARGETSESSIONATTRS',
};

/** Any `scheme://user:password@` in a text (an error of a client tool or a driver) with its credentials replaced. */
export const redactCredentials = (text: string): string => text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, '$1***@').replace(/(password=)\S+/gi, '$1***');

/** Runs a client tool; its error names the tool and exit code, with any credentials redacted. */
async function runClient(tool: string, args: string[], databaseUrl: string): Promise<void> {
  try {
    await run(tool, args, { env: libpqEnv(databaseUrl), maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr ?? (error instanceof Error ? error.message : String(error));
    throw new Error(`${tool} failed: ${redactCredentials(detail).slice(0, 2_000)}`);
  }
}

/** One schema in pg_dump's custom format, its data-key table's rows left out (they go in their own, short-lived file). */
export async function dumpSchema(databaseUrl: string, snapshot: string, schema: string, file: string, keyTables: readonly string[]): Promise<void> {
  const excluded = keyTables.filter((table) => table.startsWith(`${schema}.`)).map((table) => `--exclude-table-data=${table}`);
  await runClient('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', `--snapshot=${snapshot}`, `--schema=${schema}`, ...excluded, `--file=${file}`], databaseUrl);
}

/** The rows of every data-key table, and nothing else. */
export async function dumpDataKeys(databaseUrl: string, snapshot: string, keyTables: readonly string[], file: string): Promise<void> {
  await runClient('pg_dump', ['--format=custom', '--data-only', `--snapshot=${snapshot}`, ...keyTables.map((table) => `--table=${table}`), `--file=${file}`], databaseUrl);
}

/**
 * The first release of each major version whose pg_restore and psql carry the `\restrict`
 * guard (CVE-2025-8714): without it, a tampered dump's SQL piped to psql can run psql
 * meta-commands — a shell command among them — on the operator's machine.
 */
const RESTRICT_GUARD_SINCE: Readonly<Record<number, number>> = { 13: 22, 14: 19, 15: 14, 16: 10, 17: 6 };

/** Whether a `--version` line (`pg_restore (PostgreSQL) 15.14 (Debian …)`) names a release with the guard. */
export function hasRestrictGuard(versionLine: string): boolean {
  const match = /\(PostgreSQL\) (\d+)(?:\.(\d+))?/.exec(versionLine);
  if (!match) return false;
  const major = Number(match[1]);
  const minor = Number(match[2] ?? 0);
  if (major >= 18) return true;
  const since = RESTRICT_GUARD_SINCE[major];
  return since !== undefined && minor >= since;
}

/** Refuses to feed a dump to psql with client tools that lack the guard. */
export async function assertRestrictGuard(): Promise<void> {
  for (const tool of ['pg_restore', 'psql']) {
    const { stdout } = await run(tool, ['--version'], { encoding: 'utf8' });
    if (!hasRestrictGuard(stdout)) throw new Error(`${stdout.trim()} lacks the \\restrict guard against a tampered dump: install PostgreSQL client tools 13.22, 14.19, 15.14, 16.10, 17.6 or newer`);
  }
}

const COPY_HEADER = /^COPY (\S+) \(([^)]*)\) FROM stdin;$/;

const columnsOf = (list: string): string[] => list.split(', ').map((column) => column.replace(/^"|"$/g, ''));

/** One field of COPY's text format: `\N` is NULL; backslash escapes decoded. */
function copyField(raw: string): string | null {
  if (raw === '\\N') return null;
  return raw.replace(/\\(.)/g, (_match, char: string) => ({ t: '\t', n: '\n', r: '\r', b: '\b', f: '\f', v: '\v' })[char] ?? char);
}

/** The rows of one table of a custom-format dump, read without touching any database. */
export async function readDumpRows(file: string, schema: string, table: string): Promise<Array<Record<string, string | null>>> {
  const restore = spawn('pg_restore', ['--data-only', `--schema=${schema}`, `--table=${table}`, '--file=-', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const errors: string[] = [];
  restore.stderr.on('data', (chunk: Buffer) => errors.push(chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => restore.on('close', resolve));
  const rows: Array<Record<string, string | null>> = [];
  let columns: string[] | null = null;
  for await (const line of createInterface({ input: restore.stdout, crlfDelay: Infinity })) {
    if (columns && line === '\\.') columns = null;
    else if (columns) {
      const fields = line.split('\t');
      rows.push(Object.fromEntries(columns.map((column, index) => [column, copyField(fields[index] ?? '\\N')])));
    } else {
      const header = COPY_HEADER.exec(line);
      if (header) columns = columnsOf(header[2]!);
    }
  }
  const code = await exited;
  if (code !== 0) throw new Error(`reading ${schema}.${table} from ${file} failed (pg_restore ${code}): ${errors.join('').slice(0, 2_000)}`);
  return rows;
}

/** One step of a restore: SQL first, then a dump's SQL, its COPY rows filtered by `keep`. */
export interface RestoreStep {
  before: string;
  file: string;
  dataOnly?: boolean;
  keep?: (row: string[], columns: string[]) => boolean;
}

/**
 * Feeds every step to ONE psql session in one transaction (`--single-transaction`), then
 * `after`: the database has all of the backup or none of it — a failure, or a check in
 * the SQL that raises, rolls everything back.
 */
export async function restoreInOneTransaction(databaseUrl: string, steps: readonly RestoreStep[], after: string): Promise<void> {
  await assertRestrictGuard();
  const env = { ...libpqEnv(databaseUrl), PGAPPNAME: 'restore' };
  const psql = spawn('psql', ['--no-psqlrc', '--quiet', '--single-transaction', '--set=ON_ERROR_STOP=1'], { stdio: ['pipe', 'ignore', 'pipe'], env });
  const errors: string[] = [];
  psql.stderr.on('data', (chunk: Buffer) => errors.push(chunk.toString('utf8')));
  let psqlClosed = false;
  const psqlExit = new Promise<number | null>((resolve) =>
    psql.on('close', (code) => {
      psqlClosed = true;
      resolve(code);
    }),
  );
  psql.stdin.on('error', () => undefined); // psql stopped early: its exit code and stderr tell why
  // Once psql has stopped (an error, ON_ERROR_STOP), nothing drains its input any more.
  const write = async (text: string): Promise<void> => {
    if (!psqlClosed && !psql.stdin.write(text)) await Promise.race([new Promise((resolve) => psql.stdin.once('drain', resolve)), psqlExit]);
  };
  const failures: string[] = [];
  const children = new Set<{ kill: () => boolean }>([psql]);
  try {
    for (const step of steps) {
      if (psqlClosed) break;
      await write(`${step.before}\n`);
      const restore = spawn('pg_restore', ['--no-owner', '--no-privileges', ...(step.dataOnly ? ['--data-only'] : []), '--file=-', step.file], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(restore);
      restore.stderr.on('data', (chunk: Buffer) => errors.push(chunk.toString('utf8')));
      const restoreExit = new Promise<number | null>((resolve) => restore.on('close', resolve));
      let columns: string[] | null = null;
      for await (const line of createInterface({ input: restore.stdout, crlfDelay: Infinity })) {
        if (columns && line === '\\.') columns = null;
        else if (columns && step.keep && !step.keep(line.split('\t'), columns)) continue;
        else {
          const header = COPY_HEADER.exec(line);
          if (header) columns = columnsOf(header[2]!);
        }
        await write(`${line}\n`);
        if (psqlClosed) {
          restore.kill();
          break;
        }
      }
      const code = await restoreExit;
      if (psqlClosed) break;
      if (code !== 0) {
        failures.push(`pg_restore ${step.file} ${code}`);
        break;
      }
    }
  } catch (error) {
    // psql gone without a COMMIT: the server rolls the transaction back.
    for (const child of children) child.kill();
    await psqlExit;
    throw error;
  }
  // A failed pg_restore must not commit what came before it: end the input with an error.
  await write(failures.length > 0 ? "DO $$ BEGIN RAISE EXCEPTION 'pg_restore failed'; END $$;\n" : `${after}\n`);
  psql.stdin.end();
  const psqlCode = await psqlExit;
  if (failures.length > 0 || psqlCode !== 0) throw new Error(`restoring the database failed, nothing of it was applied (${[...failures, `psql ${psqlCode}`].join(', ')}): ${redactCredentials(errors.join('')).slice(0, 2_000)}`);
}

/** Replaces a schema by its dump: dropped and recreated (inside the restore's one transaction). */
export const schemaStep = (schema: string, file: string, guard: string): RestoreStep => ({ before: `${guard}\nDROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE;`, file });

/**
 * Loads the data-key rows into the (empty, just restored) key tables, except the rows of
 * `erasedUserIds`: an erased user's key never enters the restored database, not even
 * until the re-applied purge would delete it again. A COPY block without a `user_id`
 * column is refused: the filter could not tell whose key a row is.
 */
export function dataKeysStep(file: string, keyTables: readonly string[], erasedUserIds: ReadonlySet<string>): RestoreStep {
  const truncate = keyTables.map((table) => `TRUNCATE ${table.split('.').map(quoteIdent).join('.')};`).join('\n');
  return { before: truncate, file, dataOnly: true, keep: keepUnerasedKeys(erasedUserIds) };
}

/**
 * Refuses a schema dump whose table of contents (`pg_restore --list`) holds TABLE DATA of a
 * data-key table: the backup leaves those rows out of every schema dump, so such a dump was
 * altered — and its keys would bypass the erased-user filter and the keys' expiry.
 */
export async function assertNoKeyRows(file: string): Promise<void> {
  const { stdout } = await run('pg_restore', ['--list', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const keyData = stdout.split('\n').find((line) => /^\d+; \d+ \d+ TABLE DATA \S+ "?user_data_keys"? /.test(line));
  if (keyData) throw new Error(`${file} carries rows of a data-key table: not a backup this tool wrote`);
}

/** SQL that empties every data-key table of the given schemas (whatever a dump put there). */
export function truncateKeyTablesSql(schemas: readonly string[]): string {
  const names = schemas.map((name) => `'${name.replace(/'/g, "''")}'`).join(', ');
  return `DO $$ DECLARE t record; BEGIN FOR t IN SELECT schemaname, tablename FROM pg_tables WHERE tablename = '${DATA_KEYS_TABLE}' AND schemaname IN (${names || "''"}) LOOP EXECUTE format('TRUNCATE %I.%I', t.schemaname, t.tablename); END LOOP; END $$;`;
}

export function keepUnerasedKeys(erasedUserIds: ReadonlySet<string>): (row: string[], columns: string[]) => boolean {
  return (row, columns) => {
    const index = columns.indexOf('user_id');
    if (index < 0) throw new Error(`a data-key table without a user_id column (${columns.join(', ')}): refusing to load keys it cannot tell apart`);
    return !erasedUserIds.has(row[index] ?? '');
  };
}

/**
 * SQL that raises — and so rolls the whole restore back — when a service connected to the
 * database (its connections carry the service's name): it could have read or written the
 * schemas being replaced.
 */
export function noServiceConnectedSql(services: readonly string[]): string {
  const names = services.map((name) => `'${name.replace(/'/g, "''")}'`).join(', ');
  return `DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name IN (${names})) THEN RAISE EXCEPTION 'a service connected to the database during the restore: stop it and run the restore again'; END IF; END $$;`;
}

