import type { ExportSlicePage } from '@homiwork/contracts';
import { RpcError } from '@homiwork/messaging';

// The paging of an export slice (R7.1), shared by every service that answers one: the
// slice is a list of sections (one per collection), each read in a stable key order; a page
// takes rows until the next would carry it past its byte target, and its cursor says where
// the next page starts: `<collection>:<key of the last row given>` (empty key: from the
// section's start). Every read is scoped to the user named in the request, so a cursor
// — which the caller could alter — can only move within that user's own rows.

export type ExportFile = ExportSlicePage['files'][number];
export type ExportItem = Record<string, unknown>;

/** One row of a section: what goes into the collection, its file if it has one, and the key the next page resumes after. */
export interface ExportRow {
  key: string;
  item: ExportItem;
  file?: ExportFile;
}

/** One collection of the slice, read in key order. */
export interface ExportSection {
  /** The collection's name in the archive (snake_case). */
  name: string;
  /** What a key of this section looks like; a cursor with any other key is refused. */
  key: RegExp;
  /** The user's rows after `after` (null: from the start), at most `limit`, in key order. */
  read(after: string | null, limit: number): Promise<ExportRow[]>;
}

/** Rows read per query: small enough that the rows read past a page's end cost little. */
export const EXPORT_READ_BATCH = 100;

/** `<ISO time with microseconds>|<uuid>`: the key of rows ordered by (created_at, id). */
export const TIME_ID_KEY = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z\|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The SQL expression of a TIME_ID_KEY for a table with `created_at` and `id` (UTC, microseconds: the full precision of timestamptz). */
export const TIME_ID_KEY_SQL = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '|' || id::text`;

/** Splits a TIME_ID_KEY into the (created_at, id) pair it stands for, or nulls for "from the start". */
export function timeIdAfter(after: string | null): [string | null, string | null] {
  if (after === null) return [null, null];
  const bar = after.indexOf('|');
  return [after.slice(0, bar), after.slice(bar + 1)];
}

export const ExportSliceErrors = {
  invalidCursor: () => new RpcError(400, 'invalid_cursor', 'cursor: not a cursor this service gave out for an export slice'),
};

/** The page's JSON size is counted item by item against the target; this covers the envelope and the cursor. */
const ENVELOPE_BYTES = 512;

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

function parseCursor(cursor: string | undefined, sections: readonly ExportSection[]): { index: number; after: string | null } {
  if (cursor === undefined) return { index: 0, after: null };
  const colon = cursor.indexOf(':');
  const index = colon < 0 ? -1 : sections.findIndex((section) => section.name === cursor.slice(0, colon));
  if (index < 0) throw ExportSliceErrors.invalidCursor();
  const key = cursor.slice(colon + 1);
  if (key === '') return { index, after: null };
  if (!sections[index]!.key.test(key)) throw ExportSliceErrors.invalidCursor();
  return { index, after: key };
}

/**
 * One page of the slice from `cursor` on, at most about `targetBytes` of JSON (a single row
 * larger than that still goes, alone, so every page makes progress). Every collection is
 * present on every page, empty when it has nothing there; `nextCursor` null is the last page.
 */
export async function readExportPage(sections: readonly ExportSection[], cursor: string | undefined, targetBytes: number): Promise<ExportSlicePage> {
  const start = parseCursor(cursor, sections);
  const collections: ExportSlicePage['collections'] = Object.fromEntries(sections.map((section) => [section.name, []]));
  const files: ExportFile[] = [];
  let bytes = ENVELOPE_BYTES + jsonBytes(collections);
  let rows = 0;
  for (let index = start.index; index < sections.length; index++) {
    const section = sections[index]!;
    let after = index === start.index ? start.after : null;
    for (;;) {
      const batch = await section.read(after, EXPORT_READ_BATCH);
      for (const row of batch) {
        const size = jsonBytes(row.item) + 1 + (row.file ? jsonBytes(row.file) + 1 : 0);
        if (rows > 0 && bytes + size > targetBytes) return { collections, files, nextCursor: `${section.name}:${after ?? ''}` };
        collections[section.name]!.push(row.item);
        if (row.file) files.push(row.file);
        bytes += size;
        rows += 1;
        after = row.key;
      }
      if (batch.length < EXPORT_READ_BATCH) break;
    }
  }
  return { collections, files, nextCursor: null };
}
