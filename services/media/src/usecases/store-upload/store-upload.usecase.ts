import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { addDays, Clock } from '@homiwork/clock';
import { ProhibitedContentDetectedV1, RETENTION_SCHEDULE, UploadStoredV1, type CallerContext, type MediaRpc } from '@homiwork/contracts';
import { Transactor, UserErased, UserTombstones } from '@homiwork/persistence';
import { ObjectStore } from '@homiwork/storage';
import { EventsOutbox } from '@homiwork/messaging';
import type { Logger } from '@homiwork/observability';
import { LOGGER } from '@homiwork/service-kit';
import { MediaConfig } from '../../config.js';
import { MediaErrors } from '../../media-errors.js';
import { UploadWorkDirs } from '../../persistence/upload-work-dirs.js';
import { UploadsRepository } from '../../persistence/uploads.repository.js';
import { Moderator, type ModerationVerdict } from '@homiwork/moderation';
import { AvTransformer, ImageTransformer, normalizeText, sniffUpload, type UploadKind } from '../../processing/index.js';
import { UploadMetrics } from '../../upload-metrics.js';
import { toUploadView } from '../upload-view.js';
import { writeLimited } from './write-limited.js';

/** §5.3: uploads are kept 7 calendar days. */
export const UPLOAD_RETENTION_DAYS = RETENTION_SCHEDULE.uploads.days;

interface Transformed {
  mimeType: string;
  bytes: number;
  width?: number;
  height?: number;
  durationMs?: number;
  verdict: ModerationVerdict;
}

/**
 * R3.1–R3.3, R3.5: the original is streamed to a private temporary directory, its type
 * decided from its bytes, transformed (re-encoded, metadata stripped, bounded), checked by
 * moderation, and only the transformed file is stored. The temporary directory — and with
 * it the original — is removed whatever happens.
 *
 * An upload can take minutes, and its account can be deleted meanwhile: the row is written
 * only under the user's tombstone guard, so an upload that finishes after media purged
 * the account is refused (401, as every later request of the account) and its object
 * deleted — nothing is left that the purge would not have found.
 */
@Injectable()
export class StoreUpload {
  private readonly limits: Record<UploadKind, number>;

  constructor(
    private readonly transactor: Transactor,
    private readonly uploads: UploadsRepository,
    private readonly store: ObjectStore,
    private readonly outbox: EventsOutbox,
    private readonly tombstones: UserTombstones,
    private readonly workDirs: UploadWorkDirs,
    private readonly images: ImageTransformer,
    private readonly av: AvTransformer,
    private readonly moderator: Moderator,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(MediaConfig) private readonly config: MediaConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: UploadMetrics,
  ) {
    this.limits = { image: this.config.MEDIA_MAX_IMAGE_MB, audio: this.config.MEDIA_MAX_AUDIO_MB, video: this.config.MEDIA_MAX_VIDEO_MB, text: this.config.MEDIA_MAX_TEXT_MB };
  }

  async execute(body: Readable, declared: { filename?: string; contentType?: string }, caller: CallerContext): Promise<MediaRpc.Upload> {
    const userId = caller.userId;
    if (!userId) throw MediaErrors.unauthenticated();
    // Early and cheap; the guard at the write below is what makes it certain.
    if (await this.tombstones.isErased(userId)) throw MediaErrors.accountDeleted();
    const workDir = await this.workDirs.create();
    const original = join(workDir, 'original');
    const output = join(workDir, 'transformed');
    let kind: UploadKind | 'unknown' = 'unknown';
    try {
      const size = await writeLimited(body, original, Math.max(...Object.values(this.limits)));
      if (size === 0) throw MediaErrors.emptyFile();
      const sniffed = await sniffUpload(original, declared);
      // MP4/MOV/WebM containers holding only sound are audio (a voice memo), not video.
      const known = sniffed.kind === 'video' && !(await this.av.probe(original)).hasVideo ? 'audio' : sniffed.kind;
      kind = known;
      if (size > this.limits[known]) throw MediaErrors.fileTooLarge(known, this.limits[known]);
      const transformed = await this.transform(known, original, output);
      await rm(original, { force: true });
      if (!transformed.verdict.allowed) {
        await this.reportProhibited(userId, transformed.verdict.rule);
        throw MediaErrors.contentRejected();
      }
      const upload = await this.persist(userId, known, output, transformed);
      this.metrics.stored(known);
      return upload;
    } catch (error) {
      this.metrics.failed(kind, error);
      throw error;
    } finally {
      await this.workDirs.remove(workDir);
    }
  }

  private async transform(kind: UploadKind, input: string, output: string): Promise<Transformed> {
    switch (kind) {
      case 'image': {
        const image = await this.images.transform(input, output);
        const verdict = await this.moderator.image(await this.images.dHash(output));
        return { mimeType: image.mime, bytes: image.bytes, width: image.width, height: image.height, verdict };
      }
      case 'audio': {
        const audio = await this.av.transformAudio(input, output);
        return { mimeType: audio.mime, bytes: audio.bytes, durationMs: audio.durationMs, verdict: { allowed: true } };
      }
      case 'video': {
        const video = await this.av.transformVideo(input, output);
        return { mimeType: video.mime, bytes: video.bytes, width: video.width, height: video.height, durationMs: video.durationMs, verdict: { allowed: true } };
      }
      case 'text': {
        const text = normalizeText(await readFile(input));
        await writeFile(output, text, { mode: 0o600 });
        return { mimeType: 'text/plain; charset=utf-8', bytes: Buffer.byteLength(text), verdict: await this.moderator.text(text) };
      }
    }
  }

  /** No upload row is written; the event names the rule only — never the content (§12.2). */
  private async reportProhibited(userId: string, rule: string): Promise<void> {
    await this.guarded(userId, () => this.outbox.append(ProhibitedContentDetectedV1, { userId, subjectKind: 'upload', rule, detectedAt: this.clock.now().toISOString() }));
  }

  /** A write for the user in one transaction, refused (MediaErrors.accountDeleted) once media has purged the user. */
  private async guarded<T>(userId: string, write: () => Promise<T>): Promise<T> {
    try {
      return await this.transactor.run(async () => {
        await this.tombstones.guard(userId);
        return write();
      });
    } catch (error) {
      throw error instanceof UserErased ? MediaErrors.accountDeleted() : error;
    }
  }

  private async persist(userId: string, kind: UploadKind, file: string, transformed: Transformed): Promise<MediaRpc.Upload> {
    const id = randomUUID();
    const stored = await this.store.put(userId, `uploads/${id}`, createReadStream(file), { size: transformed.bytes, contentType: transformed.mimeType });
    try {
      const createdAt = this.clock.now();
      const expiresAt = addDays(createdAt, UPLOAD_RETENTION_DAYS);
      const upload = await this.guarded(userId, async () => {
        const inserted = await this.uploads.insert({
          id,
          userId,
          kind,
          mimeType: transformed.mimeType,
          bytes: transformed.bytes,
          ...(transformed.width ? { width: transformed.width } : {}),
          ...(transformed.height ? { height: transformed.height } : {}),
          ...(transformed.durationMs !== undefined ? { durationMs: transformed.durationMs } : {}),
          objectKey: stored.key,
          createdAt,
          expiresAt,
        });
        await this.outbox.append(UploadStoredV1, { userId, uploadId: id, kind, storedAt: createdAt.toISOString(), expiresAt: expiresAt.toISOString() });
        return inserted;
      });
      return toUploadView(upload);
    } catch (error) {
      // No row, no object: an object nobody can list would outlive every purge (and an
      // account purged while this upload streamed must not get it back).
      await this.removeOrphan(stored.key);
      throw error;
    }
  }

  /** A few tries; one that still fails is logged loudly (the key holds opaque ids only) for an operator to remove. */
  private async removeOrphan(key: string): Promise<void> {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await this.store.remove([key]);
        return;
      } catch (error) {
        if (attempt === 3) this.logger.error({ err: error, objectKey: key }, 'could not remove the object of a refused upload: it has no row and must be removed by hand');
        else await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  }
}
