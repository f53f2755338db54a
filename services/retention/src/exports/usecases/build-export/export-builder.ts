import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { UserDataKeys } from '@homiwork/data-keys';
import type { Logger } from '@homiwork/observability';
import { ServiceMetrics } from '@homiwork/observability';
import { Transactor, UserErased, UserTombstones } from '@homiwork/persistence';
import { LOGGER } from '@homiwork/service-kit';
import { ObjectStore } from '@homiwork/storage';
import type { Counter } from 'prom-client';
import { PrivacyRequestsRepository } from '../../../requests/persistence/privacy-requests.repository.js';
import { EXPORT_BUILD_LEASE_MS, EXPORT_LINK_LIFETIME_MS, EXPORT_MAX_ATTEMPTS, retryDelayMs } from '../../domain/archive-format.js';
import { ExportsRepository, type ClaimedExport } from '../../persistence/exports.repository.js';
import { ArchiveWriter } from './archive-writer.js';
import { RetentionSlice } from './retention-slice.js';
import { SliceCollector } from './slice-collector.js';

export type BuildOutcome = 'ready' | 'retry' | 'failed' | 'erased';

/**
 * Builds the archive of an access/export request (R7.1), surviving restarts and failing
 * services:
 *
 * 1. A build is claimed (ExportsRepository.claim: the attempt counted, a lease of
 *    EXPORT_BUILD_LEASE_MS), so one instance builds it; an instance dying mid-build leaves
 *    a lease that runs out, and any instance's sweeper claims the build again.
 * 2. Every service's slice is collected (SliceCollector, retention's own added), the tar
 *    written encrypted to the object store (ArchiveWriter).
 * 3. In one transaction (the user's tombstone guarded): the archive's one-off key and a
 *    fresh link token sealed with the user's data key, the token's SHA-256 (what the link
 *    is checked against), the object, `expires_at` (RETENTION_SCHEDULE.exports) — and the
 *    request `completed`, outcome `exported`.
 * 4. A failure (a service down, a file gone, the store failing) postpones the build by
 *    retryDelayMs; the request stays `in_progress`. After EXPORT_MAX_ATTEMPTS attempts it
 *    is given up: the row and any object go, the request is `rejected` with outcome
 *    `failed` (final, so the user may ask again), and the failure is counted and logged.
 */
@Injectable()
export class ExportBuilder {
  private readonly builds: Counter<'outcome'>;

  constructor(
    private readonly transactor: Transactor,
    private readonly exports: ExportsRepository,
    private readonly requests: PrivacyRequestsRepository,
    private readonly collector: SliceCollector,
    private readonly ownSlice: RetentionSlice,
    private readonly writer: ArchiveWriter,
    private readonly keys: UserDataKeys,
    private readonly tombstones: UserTombstones,
    private readonly store: ObjectStore,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
    metrics: ServiceMetrics,
  ) {
    this.builds = metrics.counter({ name: 'retention_export_builds_total', help: 'Export archive build attempts by outcome (ready, retry, failed, erased)', labelNames: ['outcome'] as const });
  }

  /** Starts the build of a new export in the background (the request answers at once); the sweeper picks it up if this instance cannot. */
  start(exportId: string): void {
    this.buildNext(exportId).catch((error: unknown) => this.logger.error({ err: error, exportId }, 'export build failed to start'));
  }

  /** Claims and builds one due export (`exportId`: that one only); undefined when none was due. */
  async buildNext(exportId?: string): Promise<BuildOutcome | undefined> {
    const now = this.clock.now();
    const claimed = await this.transactor.run(() => this.exports.claim(now, new Date(now.getTime() + EXPORT_BUILD_LEASE_MS), exportId));
    if (!claimed) return undefined;
    const outcome = await this.build(claimed);
    this.builds.inc({ outcome });
    return outcome;
  }

  /** Every due build, one after another; returns how many became ready. */
  async buildDue(): Promise<number> {
    let ready = 0;
    for (;;) {
      const outcome = await this.buildNext();
      if (outcome === undefined) return ready;
      if (outcome === 'ready') ready++;
    }
  }

  private async build(claimed: ClaimedExport): Promise<BuildOutcome> {
    const { id, userId } = claimed;
    let objectKey: string | undefined;
    try {
      if (await this.tombstones.isErased(userId)) return await this.giveUp(claimed, 'erased');
      const exportedAt = this.clock.now();
      const slices = [...(await this.collector.collect(userId)), await this.ownSlice.collect(userId)];
      const archive = await this.writer.write(id, userId, slices, exportedAt);
      objectKey = archive.objectKey;
      const token = randomBytes(32).toString('base64url');
      const readyAt = this.clock.now();
      let stored: boolean;
      try {
        stored = await this.transactor.run(async () => {
          await this.tombstones.guard(userId);
          const wrappedKey = (await this.keys.seal(userId, archive.key.toString('base64'))).sealed;
          const sealedToken = (await this.keys.seal(userId, token)).sealed;
          const ready = await this.exports.markReady(id, {
            objectKey: archive.objectKey,
            bytes: archive.bytes,
            wrappedKey,
            iv: archive.iv,
            tag: archive.tag,
            tokenHash: createHash('sha256').update(token).digest(),
            sealedToken,
            readyAt,
            expiresAt: new Date(readyAt.getTime() + EXPORT_LINK_LIFETIME_MS),
          });
          if (ready) await this.requests.changeStatus(claimed.requestId, ['in_progress'], 'completed', readyAt, { completedAt: readyAt, outcome: 'exported' });
          return ready;
        });
      } finally {
        archive.key.fill(0);
      }
      if (!stored) {
        // The row went meanwhile (the user's erasure): the object must not outlive it.
        await this.store.remove([archive.objectKey]).catch(() => undefined);
        return 'erased';
      }
      this.logger.info({ exportId: id, attempt: claimed.attempts, bytes: archive.bytes, services: slices.length }, 'export archive ready');
      return 'ready';
    } catch (error) {
      if (error instanceof UserErased) {
        if (objectKey) await this.store.remove([objectKey]).catch(() => undefined);
        return this.giveUp(claimed, 'erased');
      }
      if (claimed.attempts >= EXPORT_MAX_ATTEMPTS) {
        this.logger.error({ err: error, exportId: id, attempt: claimed.attempts }, 'export build given up after its last attempt; the request is rejected with outcome failed');
        return this.giveUp(claimed, 'failed');
      }
      const next = new Date(this.clock.now().getTime() + retryDelayMs(claimed.attempts));
      this.logger.warn({ err: error, exportId: id, attempt: claimed.attempts, nextAttemptAt: next.toISOString() }, 'export build failed; it will be tried again');
      await this.transactor.run(() => this.exports.postpone(id, next));
      return 'retry';
    }
  }

  /** The build ends without an archive: row and object go; a living user's request is rejected (`failed`). */
  private async giveUp(claimed: ClaimedExport, outcome: 'failed' | 'erased'): Promise<BuildOutcome> {
    const now = this.clock.now();
    const removed = await this.transactor.run(async () => {
      const row = await this.exports.delete(claimed.id);
      if (outcome === 'failed') await this.requests.changeStatus(claimed.requestId, ['in_progress'], 'rejected', now, { completedAt: now, outcome: 'failed' });
      return row;
    });
    if (removed?.objectKey) await this.store.remove([removed.objectKey]).catch(() => undefined);
    // A partial upload of a failed attempt is overwritten by the next one; the last one's goes here.
    await this.store.remove([this.store.keyFor(claimed.userId, `exports/${claimed.id}`)]).catch(() => undefined);
    return outcome;
  }
}
