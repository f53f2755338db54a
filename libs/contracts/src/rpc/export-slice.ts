import { z } from 'zod';
import { defineRoute } from '../rpc-contract.js';
import type { ServiceName } from '../services.js';

/** The version of the export format (docs/privacy-export-format.md); bump on any change of shape. */
export const EXPORT_FORMAT_VERSION = 1;

/** A file of the user's that belongs in the archive: fetched by retention from a short-lived signed URL. */
export const ExportFile = z.strictObject({
  /** Where it goes in the archive, below `files/<service>/`: `<collection>/<id>.<ext>`. */
  path: z.string().regex(/^[a-z_]+\/[A-Za-z0-9._-]{1,200}$/),
  url: z.string(),
  mimeType: z.string(),
  bytes: z.number().int().nonnegative(),
});

/**
 * One page of what a service holds about a user (R7.1): its records by collection, plain
 * JSON (decrypted, as the user would read them), and the files to include. Pages keep each
 * answer well under NATS's 1 MB message; `nextCursor` null is the last page.
 */
export const ExportSlicePage = z.strictObject({
  collections: z.record(z.string().regex(/^[a-z_]{1,40}$/), z.array(z.record(z.string(), z.unknown()))),
  files: z.array(ExportFile),
  nextCursor: z.string().max(200).nullable(),
});
export type ExportSlicePage = z.infer<typeof ExportSlicePage>;

/** Retention asks each data-owning service for its slice; each answers for its own schema and files only. */
export function exportSliceRoute<S extends ServiceName>(service: S) {
  return defineRoute({
    service,
    method: 'export.slice',
    request: z.strictObject({ userId: z.uuid(), cursor: z.string().max(200).optional() }),
    response: ExportSlicePage,
    callers: ['retention'],
  });
}

/** Pages aim at this many bytes of JSON (NATS carries up to 1 MB). */
export const EXPORT_PAGE_TARGET_BYTES = 256 * 1024;

/**
 * The slice route of every service that holds user data besides retention (which builds
 * the archive), as constants: the NATS permissions are generated from exported routes.
 * A test checks this list against the service manifest's `holdsUserData`.
 */
export const EXPORT_SLICE_ROUTES = {
  identity: exportSliceRoute('identity'),
  media: exportSliceRoute('media'),
  generation: exportSliceRoute('generation'),
  chat: exportSliceRoute('chat'),
  billing: exportSliceRoute('billing'),
} as const;
