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
import { archiveObjectName, EXPORT_BUILD_LEASE_MS, EXPORT_LINK_LIFETIME_MS, EXPORT_MAX_ATTEMPTS, retryDelayMs } from '../../domain/archive-format.js';
import { ExportsRepository, type ClaimedExport } from '../../persistence/exports.repository.js';
import { ArchiveWriter } from './archive-writer.js';
import { RetentionSlice } from './retention-slice.js';
import { SliceCollector } from './slice-collector.js';

/** `superseded`: this attempt outlived its lease and a later one took the build over; it left that one alone. */
export type BuildOutcome = 'ready' | 'retry' | 'failed' | 'erased' | 'superseded';

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
 * 5. An attempt that outlives its lease may be taken over by another (the claim counts a
 *    new attempt). Each attempt writes its own object (`exports/<exportId>/<attempt>`,
 *    own key and nonce); only the latest attempt may mark the archive ready, postpone or
 *    give up the build (`attempts = $attempt` in each statement); a superseded attempt
 *    removes only its own object.
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
    this.builds = metrics.counter({ name: 'retention_export_builds_total', help: 'Export archive build attempts by outcome (ready, retry, failed, erased, superseded)', labelNames: ['outcome'] as const });
    for (const outcome of ['ready', 'retry', 'failed', 'erased', 'superseded']) this.builds.inc({ outcome }, 0);
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
    const { id, userId, attempts: attempt } = claimed;
    // This attempt's own object: no other attempt ever writes or removes it.
    const ownObject = this.store.keyFor(userId, archiveObjectName(id, attempt));
    try {
      if (await this.tombstones.isErased(userId)) return await this.giveUp(claimed, 'erased');
      const exportedAt = this.clock.now();
      const slices = [...(await this.collector.collect(userId)), await this.ownSlice.collect(userId)];
      const archive = await this.writer.write(id, attempt, userId, slices, exportedAt);
      const token = randomBytes(32).toString('base64url');
      const readyAt = this.clock.now();
      let stored: boolean;
      try {
        stored = await this.transactor.run(async () => {
          await this.tombstones.guard(userId);
          const wrappedKey = (await this.keys.seal(userId, archive.key.toString('base64'))).sealed;
          const sealedToken = (await this.keys.seal(userId, token)).sealed;
          const ready = await this.exports.markReady(id, attempt, {
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
        // Not this attempt's to finish: the row went (the user's erasure), or a later attempt
        // claimed it after this one outlived its lease. Only this attempt's object goes.
        await this.store.remove([archive.objectKey]).catch(() => undefined);
        if (await this.exports.exists(id)) {
          this.logger.warn({ exportId: id, attempt }, 'export build outlived its lease and was taken over; its archive is discarded');
          return 'superseded';
        }
        return 'erased';
      }
      this.logger.info({ exportId: id, attempt, bytes: archive.bytes, services: slices.length }, 'export archive ready');
      return 'ready';
    } catch (error) {
      // Whatever this attempt stored (whole or partial) goes; nothing of another attempt's.
      await this.store.remove([ownObject]).catch(() => undefined);
      if (error instanceof UserErased) return this.giveUp(claimed, 'erased');
      if (attempt >= EXPORT_MAX_ATTEMPTS) {
        this.logger.error({ err: error, exportId: id, attempt }, 'export build given up after its last attempt; the request is rejected with outcome failed');
        return this.giveUp(claimed, 'failed');
      }
      const next = new Date(this.clock.now().getTime() + retryDelayMs(attempt));
      this.logger.warn({ err: error, exportId: id, attempt, nextAttemptAt: next.toISOString() }, 'export build failed; it will be tried again');
      await this.transactor.run(() => this.exports.postpone(id, attempt, next));
      return 'retry';
    }
  }

  /**
   * The build ends without an archive. `erased`: the row goes with whatever it names.
   * `failed`: the row goes and the living user's request is rejected (`failed`) — only while
   * this attempt is still the latest (an attempt that outlived its lease leaves the one that
   * took over alone: `superseded`).
   */
  private async giveUp(claimed: ClaimedExport, outcome: 'failed' | 'erased'): Promise<BuildOutcome> {
    const now = this.clock.now();
    const removed = await this.transactor.run(async () => {
      const row = await this.exports.delete(claimed.id, outcome === 'failed' ? claimed.attempts : undefined);
      if (row && outcome === 'failed') await this.requests.changeStatus(claimed.requestId, ['in_progress'], 'rejected', now, { completedAt: now, outcome: 'failed' });
      return row;
    });
    if (removed?.objectKey) await this.store.remove([removed.objectKey]).catch(() => undefined);
    await this.store.remove([this.store.keyFor(claimed.userId, archiveObjectName(claimed.id, claimed.attempts))]).catch(() => undefined);
    return outcome === 'failed' && !removed ? 'superseded' : outcome;
  }
}
