import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { EVENTS_STREAM, streamName } from '@homiwork/contracts';
import { TEST_NATS_URL } from '@homiwork/testing';
import type { TestSystem } from './test-system.js';

/**
 * Everything a request could have changed in a test system, in a form two snapshots can
 * be compared by: every row of every table (a digest per table), every stored object
 * (name and size) and the last sequence of the event stream. "Nothing changed" is then
 * one comparison, whatever route or service is added later.
 */
export type Fingerprint = Record<string, string>;

export class SystemFingerprint {
  private nc: NatsConnection | undefined;

  constructor(private readonly system: TestSystem) {}

  async take(): Promise<Fingerprint> {
    const [tables, objects, events] = await Promise.all([this.tables(), this.objects(), this.eventSequence()]);
    return { ...tables, ...objects, 'events:last_seq': String(events) };
  }

  /** A snapshot once the system is idle: two in a row, `gapMs` apart, the same (an event still being consumed, a purge in flight, settle first). */
  async settled(gapMs = 150, timeoutMs = 20_000): Promise<Fingerprint> {
    const deadline = Date.now() + timeoutMs;
    let previous = await this.take();
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, gapMs));
      const current = await this.take();
      if (differences(previous, current).length === 0) return current;
      if (Date.now() > deadline) throw new Error(`the system did not settle within ${timeoutMs} ms: ${differences(previous, current).join(', ')}`);
      previous = current;
    }
  }

  async close(): Promise<void> {
    await this.nc?.close();
  }

  private async tables(): Promise<Fingerprint> {
    const tables = await this.system.sql<{ s: string; t: string }>(
      "SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
    );
    const digests = await Promise.all(
      tables.map(async ({ s, t }) => {
        const [row] = await this.system.sql<{ n: number; digest: string }>(
          `SELECT count(*)::int AS n, md5(coalesce(string_agg(row_to_json(x)::text, E'\\n' ORDER BY row_to_json(x)::text), '')) AS digest FROM "${s}"."${t}" x`,
        );
        return [`table:${s}.${t}`, `${row!.n} rows ${row!.digest}`] as const;
      }),
    );
    return Object.fromEntries(digests);
  }

  private async objects(): Promise<Fingerprint> {
    const root = this.system.s3.directory;
    const entries = await readdir(root, { recursive: true, withFileTypes: true });
    const files = await Promise.all(
      entries
        .filter((entry) => entry.isFile())
        .map(async (entry) => {
          const path = join(entry.parentPath, entry.name);
          return [`object:${relative(root, path)}`, String((await stat(path)).size)] as const;
        }),
    );
    return Object.fromEntries(files);
  }

  private async eventSequence(): Promise<number> {
    this.nc ??= await connect({ servers: TEST_NATS_URL });
    const info = await (await jetstreamManager(this.nc)).streams.info(streamName(this.system.namespace, EVENTS_STREAM));
    return info.state.last_seq;
  }
}

/** What differs between two fingerprints: `table:media.uploads`, `object:…`, `events:last_seq`. */
export function differences(before: Fingerprint, after: Fingerprint): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((key) => before[key] !== after[key]).sort();
}
