import { Injectable } from '@nestjs/common';
import type { Counter } from 'prom-client';
import { ServiceMetrics } from '@homiwork/observability';
import { UploadRejected, type UploadKind } from './processing/index.js';

export const UPLOAD_KINDS = ['image', 'audio', 'video', 'text'] as const satisfies readonly UploadKind[];
/** `unknown`: refused before its bytes said what it is (empty, unsupported). */
type KindLabel = UploadKind | 'unknown';
/** stored; rejected (the file, with its reason); failed (our side: storage, the database, a deleted account). */
export const UPLOAD_OUTCOMES = ['stored', 'rejected', 'failed'] as const;
/** Every code an UploadRejected carries (processing/ and media-errors.ts); a new one must be added here. */
export const UPLOAD_REJECTION_REASONS = [
  'empty_file',
  'file_too_large',
  'image_too_large',
  'video_too_large',
  'too_long',
  'text_too_long',
  'invalid_utf8',
  'unsupported_type',
  'type_mismatch',
  'unreadable_image',
  'unreadable_media',
  'no_audio_stream',
  'no_video_stream',
  'processing_timeout',
  'content_rejected',
] as const;

/**
 * Uploads by kind, outcome and rejection reason (R9.1). Labels are the fixed vocabularies
 * above — never a file name, type a client declared, user or upload id.
 */
@Injectable()
export class UploadMetrics {
  private readonly uploads: Counter<'kind' | 'outcome' | 'reason'>;

  constructor(metrics: ServiceMetrics) {
    this.uploads = metrics.counter({ name: 'media_uploads_total', help: 'Uploads by kind, outcome (stored, rejected, failed) and rejection reason (none unless rejected)', labelNames: ['kind', 'outcome', 'reason'] as const });
    for (const kind of UPLOAD_KINDS) {
      this.uploads.inc({ kind, outcome: 'stored', reason: 'none' }, 0);
      this.uploads.inc({ kind, outcome: 'failed', reason: 'none' }, 0);
    }
    for (const reason of UPLOAD_REJECTION_REASONS) this.uploads.inc({ kind: 'unknown', outcome: 'rejected', reason }, 0);
  }

  stored(kind: UploadKind): void {
    this.uploads.inc({ kind, outcome: 'stored', reason: 'none' });
  }

  /** A refusal of the file counts under its reason; anything else is our failure. */
  failed(kind: KindLabel, error: unknown): void {
    if (error instanceof UploadRejected) {
      const reason = (UPLOAD_REJECTION_REASONS as readonly string[]).includes(error.code) ? error.code : 'other';
      this.uploads.inc({ kind, outcome: 'rejected', reason });
    } else this.uploads.inc({ kind, outcome: 'failed', reason: 'none' });
  }
}
