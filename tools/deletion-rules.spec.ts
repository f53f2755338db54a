import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RETENTION_SCHEDULE } from '@homiwork/contracts';
import { createServiceDataSource, runMigrations } from '@homiwork/persistence';
import { loadDescriptor, SERVICE_MANIFEST, type ServiceManifestEntry } from '@homiwork/system-runner';
import { createTestDatabase, type TestDatabase } from '@homiwork/testing';

// A DELF-style check (Facebook's deletion framework, USENIX Security 2020: every stored type
// must declare how it is deleted, or it is found missing). Every service's migrations run
// into a fresh database; every table of every service schema with a column that refers to
// a user — by name (user_id, owner_id, *_user_id, placed_by, released_by), by holding an
// email, username or network address, or through a foreign key to such a table — must be
// registered in that service's `src/deletion-rules.ts` with its purge path, and every
// registered table must exist. The same for object keys: every key template a service's
// code writes must fall under a registered prefix whose purge use case empties it.

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Column names that point at a person. */
const USER_REFERENCE = /^(?:user_id|owner_id|placed_by|released_by|[a-z0-9_]+_user_id)$/;
/** Column names that hold something identifying a person. */
const PERSONAL_VALUE = /(?:^|_)(?:email|username|ip)(?:_|$)/;

const ScheduleKey = z.enum(Object.keys(RETENTION_SCHEDULE) as [keyof typeof RETENTION_SCHEDULE, ...Array<keyof typeof RETENTION_SCHEDULE>]);
const TableRule = z.strictObject({
  table: z.string().regex(/^[a-z_][a-z0-9_]*$/),
  /** The columns that refer to the user (must equal what the check finds). */
  userColumns: z.array(z.string()),
  /** What happens to the table's rows of a user on UserDeleted; `kept:<reason>` says why they stay. */
  onUserDeleted: z.union([z.enum(['deleted', 'unlinked']), z.string().regex(/^kept:\s*\S.{9,}$/, 'kept: needs a reason')]),
  /** The RETENTION_SCHEDULE entry (or entries) that also remove its rows on a timer. */
  schedule: z.union([ScheduleKey, z.array(ScheduleKey).min(1)]).optional(),
  /** Repository-relative path(s) of the code that deletes or unlinks the rows. */
  purgedBy: z.union([z.string(), z.array(z.string()).min(1)]),
});
const PrefixRule = z.strictObject({
  /** `<service>/<userId>/…`, placeholders in angle brackets. */
  prefix: z.string().regex(/^[a-z][a-z0-9-]*\/<userId>\//, 'must start with <service>/<userId>/'),
  /** Repository-relative path of the use case that deletes everything under the user's prefix. */
  purgedBy: z.string(),
});
const ServiceRules = z.strictObject({ service: z.string(), tables: z.array(TableRule), objectKeyPrefixes: z.array(PrefixRule) });
type ServiceRules = z.infer<typeof ServiceRules>;

interface FoundTable {
  service: string;
  table: string;
  columns: string[];
  /** Columns that refer to a user directly. */
  userColumns: string[];
  /** Foreign keys: column → referenced table, and whether a delete there cascades here. */
  foreignKeys: Array<{ column: string; references: string; cascades: boolean }>;
  /** Why it counts as referring to a user, or undefined when it does not. */
  why?: string;
}

let database: TestDatabase;
let client: pg.Client;
const services: ServiceManifestEntry[] = [];
const found: FoundTable[] = [];
const rules = new Map<string, ServiceRules>();
const ruleErrors: string[] = [];

const rulesFile = (entry: ServiceManifestEntry): string => join(REPO_ROOT, entry.root, 'src', 'deletion-rules.ts');
const purgePaths = (purgedBy: string | string[]): string[] => (Array.isArray(purgedBy) ? purgedBy : [purgedBy]);

beforeAll(async () => {
  database = await createTestDatabase();
  for (const entry of SERVICE_MANIFEST) {
    const { migrations } = await loadDescriptor(entry);
    if (migrations.length === 0) continue;
    services.push(entry);
    const dataSource = await createServiceDataSource({ databaseUrl: database.url, schema: entry.name, migrations: [...migrations] }).initialize();
    await runMigrations(dataSource);
    await dataSource.destroy();
    if (existsSync(rulesFile(entry))) {
      const module = (await import(pathToFileURL(rulesFile(entry)).href)) as { deletionRules?: unknown };
      const parsed = ServiceRules.safeParse(module.deletionRules);
      if (parsed.success) rules.set(entry.name, parsed.data);
      else ruleErrors.push(`${entry.root}/src/deletion-rules.ts: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
    }
  }
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
  const schemas = services.map((entry) => entry.name);
  const { rows: columns } = await client.query<{ schema: string; table: string; column: string }>(
    `SELECT c.table_schema AS schema, c.table_name AS table, c.column_name AS column
       FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
      WHERE c.table_schema = ANY($1) AND t.table_type = 'BASE TABLE' AND c.table_name <> 'migrations'
      ORDER BY c.table_schema, c.table_name, c.ordinal_position`,
    [schemas],
  );
  const { rows: keys } = await client.query<{ schema: string; table: string; column: string; references: string; cascades: boolean }>(
    `SELECT n.nspname AS schema, cl.relname AS table, a.attname AS column, rcl.relname AS references, con.confdeltype = 'c' AS cascades
       FROM pg_constraint con
       JOIN pg_class cl ON cl.oid = con.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
       JOIN pg_class rcl ON rcl.oid = con.confrelid
       JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = ANY(con.conkey)
      WHERE con.contype = 'f' AND n.nspname = ANY($1)`,
    [schemas],
  );
  for (const row of columns) {
    let table = found.find((t) => t.service === row.schema && t.table === row.table);
    if (!table) found.push((table = { service: row.schema, table: row.table, columns: [], userColumns: [], foreignKeys: [] }));
    table.columns.push(row.column);
    if (USER_REFERENCE.test(row.column) || PERSONAL_VALUE.test(row.column)) table.userColumns.push(row.column);
  }
  for (const key of keys) found.find((t) => t.service === key.schema && t.table === key.table)?.foreignKeys.push({ column: key.column, references: key.references, cascades: key.cascades });
  for (const table of found) if (table.userColumns.length > 0) table.why = table.userColumns.join(', ');
  // A foreign key to a table that refers to a user refers to that user too (to any depth).
  for (let changed = true; changed; ) {
    changed = false;
    for (const table of found.filter((t) => !t.why)) {
      const via = table.foreignKeys.find((key) => found.some((t) => t.service === table.service && t.table === key.references && t.why));
      if (via) {
        table.why = `${via.column} → ${via.references}`;
        changed = true;
      }
    }
  }
  printTable();
}, 120_000);

afterAll(async () => {
  await client?.end();
  await database?.drop();
});

function ruleOf(service: string, table: string) {
  return rules.get(service)?.tables.find((rule) => rule.table === table);
}

/** The readable report: every table that refers to a user, and how it goes. */
function printTable(): void {
  const rows = found
    .filter((table) => table.why || ruleOf(table.service, table.table))
    .map((table) => {
      const rule = ruleOf(table.service, table.table);
      return [
        `${table.service}.${table.table}`,
        table.why ?? '(none)',
        rule ? rule.onUserDeleted.split(':')[0]! : 'UNREGISTERED',
        rule?.schedule ? [rule.schedule].flat().join(', ') : '',
        rule ? purgePaths(rule.purgedBy).map((path) => path.replace(/^services\/[a-z]+\//, '')).join(', ') : '',
      ];
    });
  for (const service of rules.values()) for (const prefix of service.objectKeyPrefixes) rows.push([`${service.service} objects`, prefix.prefix, 'deleted', '', prefix.purgedBy.replace(/^services\/[a-z]+\//, '')]);
  const header = ['table', 'refers to the user by', 'on UserDeleted', 'schedule', 'purged by'];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(`\nDeletion rules (DELF-style check)\n${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}\n${rows.map(line).join('\n')}\n\n`);
}

/** The table's name as the purge code may spell it: `ledger_entries`, `ledgerEntries`, `LedgerEntries`. */
function mentions(text: string, table: string): boolean {
  const camel = table.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  return [table, camel, camel[0]!.toUpperCase() + camel.slice(1)].some((name) => new RegExp(`\\b${name}\\b`).test(text));
}

/**
 * Whether the purge file deletes (or unlinks) the table: the file names it (as its
 * repository is usually named after it), or a file it imports one level down — a relative
 * import, or the sources of a workspace library (`@homiwork/<lib>`) — deletes or updates
 * it in SQL.
 */
function purges(path: string, table: string): boolean {
  const text = readFileSync(join(REPO_ROOT, path), 'utf8');
  if (mentions(text, table)) return true;
  const imported: string[] = [];
  for (const [, specifier] of text.matchAll(/from '([^']+)'/g)) {
    if (specifier!.startsWith('.')) {
      const file = join(REPO_ROOT, path, '..', specifier!.replace(/\.js$/, '.ts'));
      if (existsSync(file)) imported.push(readFileSync(file, 'utf8'));
    } else if (specifier!.startsWith('@homiwork/')) {
      const lib = join(REPO_ROOT, 'libs', specifier!.slice('@homiwork/'.length).split('/')[0]!, 'src');
      if (existsSync(lib)) imported.push(...sourceFiles(lib).map((file) => readFileSync(file, 'utf8')));
    }
  }
  return new RegExp(`(?:DELETE\\s+FROM|UPDATE)\\s+(?:"?\\w+"?\\.)?"?${table}\\b`).test(imported.join('\n'));
}

/** Every non-test TypeScript file under `dir`. */
function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...sourceFiles(path));
    else if (name.endsWith('.ts') && !name.endsWith('.spec.ts')) files.push(path);
  }
  return files;
}

/**
 * The object keys a service's code writes: `store.put(owner, name, …)` and
 * `store.keyFor(owner, name)` (ObjectStore makes them `<service>/<owner>/<name>`), with
 * every `${…}` written as `<*>`.
 */
function objectKeyTemplates(entry: ServiceManifestEntry): Array<{ file: string; owner: string; template: string }> {
  const files = sourceFiles(join(REPO_ROOT, entry.root, 'src'));
  const everything = files.map((file) => readFileSync(file, 'utf8')).join('\n');
  /** A name given by a helper (`archiveObjectName(id)`): the template literal it returns, when it is that simple. */
  const resolve = (call: string): string | undefined => {
    const name = /^(\w+)\(/.exec(call)?.[1];
    const returned = name && new RegExp(`(?:function\\s+${name}\\s*\\([^)]*\\)[^{]*\\{\\s*return\\s+|\\b${name}\\s*=\\s*\\([^)]*\\)[^=]*=>\\s*)(\`[^\`]*\`|'[^']*')`).exec(everything)?.[1];
    return returned;
  };
  const templates: Array<{ file: string; owner: string; template: string }> = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/\bstore\.(?:put|keyFor)\(\s*([\w.?!]+)\s*,\s*(`[^`]*`|'[^']*'|\w+\([^()]*\)|[\w.?!]+)\s*[,)]/g)) {
      const literal = /^[`']/.test(match[2]!) ? match[2]! : resolve(match[2]!);
      const name = literal ? literal.slice(1, -1).replace(/\$\{[^}]*\}/g, '<*>') : '<*>';
      templates.push({ file: relative(REPO_ROOT, file), owner: match[1]!, template: `${entry.name}/<*>/${name}` });
    }
  }
  return templates;
}

/** Whether `template` (placeholders `<*>`) is under the registered `prefix` (placeholders `<name>`). */
function underPrefix(template: string, prefix: string): boolean {
  const pattern = prefix
    .split(/<[^>]*>/)
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('<\\*>');
  return new RegExp(`^${pattern}`).test(template) || new RegExp(`^${pattern.replace(/\/?$/, '')}$`).test(template);
}

describe('every table and object key that refers to a user has a deletion rule (DELF-style)', () => {
  it('finds the user-referring tables (the check itself works)', () => {
    expect(found.find((t) => t.service === 'identity' && t.table === 'users')?.why).toContain('email');
    expect(found.find((t) => t.service === 'media' && t.table === 'uploads')?.why).toContain('user_id');
    expect(found.filter((t) => t.why).length).toBeGreaterThan(20);
  });

  it('every data-holding service has a well-formed deletion-rules.ts', () => {
    expect(ruleErrors).toEqual([]);
    const missing = services.filter((entry) => entry.holdsUserData && !rules.has(entry.name)).map((entry) => `${entry.root}/src/deletion-rules.ts`);
    expect(missing, 'services keeping user data without a deletion-rules.ts').toEqual([]);
    for (const [service, serviceRules] of rules) expect(serviceRules.service, `the rules file of ${service} names another service`).toBe(service);
  });

  it('every table that refers to a user is registered, with exactly the user columns found', () => {
    const unregistered = found.filter((t) => t.why && !ruleOf(t.service, t.table)).map((t) => `${t.service}.${t.table} (${t.why})`);
    expect(unregistered, 'tables referring to a user with no deletion rule: add them to the service’s src/deletion-rules.ts').toEqual([]);
    const wrongColumns = found
      .filter((t) => ruleOf(t.service, t.table))
      .filter((t) => [...ruleOf(t.service, t.table)!.userColumns].sort().join(',') !== [...t.userColumns].sort().join(','))
      .map((t) => `${t.service}.${t.table}: registered [${ruleOf(t.service, t.table)!.userColumns.join(', ')}], found [${t.userColumns.join(', ')}]`);
    expect(wrongColumns).toEqual([]);
  });

  it('no rule names a table that does not exist (stale rules fail)', () => {
    const stale: string[] = [];
    for (const [service, serviceRules] of rules) for (const rule of serviceRules.tables) if (!found.some((t) => t.service === service && t.table === rule.table)) stale.push(`${service}.${rule.table}`);
    expect(stale).toEqual([]);
  });

  it('each purge path exists and deletes the table: it (or its repository) names it, or deletes a table its rows cascade from', () => {
    const broken: string[] = [];
    for (const [service, serviceRules] of rules) {
      for (const rule of serviceRules.tables) {
        for (const path of purgePaths(rule.purgedBy)) {
          if (!existsSync(join(REPO_ROOT, path))) {
            broken.push(`${service}.${rule.table}: ${path} does not exist`);
            continue;
          }
          const table = found.find((t) => t.service === service && t.table === rule.table);
          const cascadesFrom = (table?.foreignKeys ?? []).filter((key) => key.cascades).map((key) => key.references);
          if (!purges(path, rule.table) && !cascadesFrom.some((parent) => purges(path, parent))) broken.push(`${service}.${rule.table}: ${path} names neither the table nor a table it cascades from`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('every object key a service writes is under a registered prefix, and each prefix’s purge empties the user’s prefix', () => {
    const unregistered: string[] = [];
    const broken: string[] = [];
    const written: string[] = [];
    for (const entry of services) {
      const prefixes = rules.get(entry.name)?.objectKeyPrefixes ?? [];
      for (const { file, owner, template } of objectKeyTemplates(entry)) {
        written.push(template);
        if (!prefixes.some((rule) => underPrefix(template, rule.prefix))) unregistered.push(`${template} (written in ${file})`);
        // The owner segment is what erasure removes by: it must be the user's id.
        if (!/(?:^|\.)userId$/.test(owner)) broken.push(`${template} (written in ${file}): owner \`${owner}\` is not a user id, so erasure would not find it`);
      }
      for (const rule of prefixes) {
        const path = join(REPO_ROOT, rule.purgedBy);
        if (!rule.prefix.startsWith(`${entry.name}/`)) broken.push(`${rule.prefix}: not under ${entry.name}/ (ObjectStore keys start with the service)`);
        if (!existsSync(path)) broken.push(`${rule.prefix}: ${rule.purgedBy} does not exist`);
        // ObjectStore.removeAllForOwner(userId) deletes every key under `<service>/<userId>/`.
        else if (!/\.removeAllForOwner\(/.test(readFileSync(path, 'utf8'))) broken.push(`${rule.prefix}: ${rule.purgedBy} does not delete by the user's prefix (removeAllForOwner)`);
      }
    }
    expect(written.length, 'the key templates were found at all').toBeGreaterThan(0);
    expect(unregistered, 'object keys under no registered prefix: add the prefix to the service’s src/deletion-rules.ts').toEqual([]);
    expect(broken).toEqual([]);
  });
});
