import { RETENTION_SCHEDULE, type EXPORT_FORMAT_VERSION, type ServiceName } from '@homiwork/contracts';

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/** How long a build may run before another instance may take it over (its instance is taken for dead). */
export const EXPORT_BUILD_LEASE_MS = 15 * MINUTE_MS;

/**
 * Attempts before a build is given up: with the back-off below (1, 4, 16, 64 minutes, then
 * 4 and 6 hours) eight attempts span about 18 hours — a service down for most of a day still
 * gets its slice in, and the request stays well inside its 30-day deadline.
 */
export const EXPORT_MAX_ATTEMPTS = 8;

/** The wait after the `attempt`-th failed attempt (from 1). */
export function retryDelayMs(attempt: number): number {
  return Math.min(MINUTE_MS * 4 ** (attempt - 1), 6 * 60 * MINUTE_MS);
}

/** The link and the archive live this long from the archive being ready (§9.1, R7.1; the schedule's `exports`). */
export const EXPORT_LINK_LIFETIME_MS = RETENTION_SCHEDULE.exports.days * DAY_MS;

/**
 * At most one archive is built per user in this time: a new access/export request while a
 * completed one's archive lives, or within this time of its completion, answers that one.
 */
export const EXPORT_MIN_INTERVAL_MS = DAY_MS;

/** The presigned URL the gateway streams the archive from: it fetches it at once, so a few minutes are plenty (≤ 15). */
export const EXPORT_OBJECT_URL_SECONDS = 5 * 60;

/**
 * Where the encrypted archive of one build attempt is stored: under the user's own prefix
 * `retention/<userId>/`, which erasure removes whole. The attempt is part of the name: a
 * build that outlived its lease and the build that took it over write different objects
 * (each under its own key and nonce), and the one that loses removes only its own.
 */
export function archiveObjectName(exportId: string, attempt: number): string {
  return `exports/${exportId}/${attempt}`;
}

export function archiveFileName(readyAt: Date): string {
  return `homiwork-export-${readyAt.toISOString().slice(0, 10)}.tar`;
}

/** `manifest.json`, the archive's first entry (docs/privacy-export-format.md). */
export interface ExportManifest {
  formatVersion: typeof EXPORT_FORMAT_VERSION;
  exportId: string;
  userId: string;
  exportedAt: string;
  services: Array<{ service: ServiceName; document: string; collections: Record<string, number>; files: number }>;
  files: Array<{ path: string; service: ServiceName; mimeType: string; bytes: number }>;
}

/** `services/<service>.json`: everything one service holds about the user, by collection. */
export interface ServiceDocument {
  service: ServiceName;
  formatVersion: typeof EXPORT_FORMAT_VERSION;
  collections: Record<string, Array<Record<string, unknown>>>;
}

export function serviceDocumentPath(service: ServiceName): string {
  return `services/${service}.json`;
}

export function filePath(service: ServiceName, path: string): string {
  return `files/${service}/${path}`;
}
