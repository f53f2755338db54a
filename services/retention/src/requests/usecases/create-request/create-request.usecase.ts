import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import { IdentityRpc, ProcessingRestrictionChangedV1, type CallerContext, type RetentionRpc } from '@homiwork/contracts';
import { EventsOutbox, RpcClient, RpcError } from '@homiwork/messaging';
import { Transactor, UserErased, UserTombstones } from '@homiwork/persistence';
import { ExportBuilder } from '../../../exports/usecases/build-export/export-builder.js';
import { EXPORT_MIN_INTERVAL_MS } from '../../../exports/domain/archive-format.js';
import { ExportsRepository } from '../../../exports/persistence/exports.repository.js';
import { dueDate, initialStatus, isExport, isRecordOnly, isRestricting, type PrivacyRegime, type PrivacyRequestStatus, type PrivacyRequestType } from '../../domain/privacy-request.js';
import { PrivacyRequestsRepository, type NewPrivacyRequest, type PrivacyRequestRecord } from '../../persistence/privacy-requests.repository.js';
import { RequestErrors, requireUser } from '../../request-errors.js';
import { RequestViews } from '../request-views.js';
import { VerifyPrivacyRequest } from '../verify-request/verify-request.usecase.js';

/** How many times an insert that met an open request which closed before it could be read is tried again. */
const INSERT_TRIES = 3;

/** A consent withdrawal or opt-out of sale repeated (same type and regime) within this answers the first: no new row. */
export const RECORD_REPEAT_WINDOW_MS = 60_000;

/**
 * §9, R7.2: a privacy request, due PRIVACY_REQUEST_DEADLINE_DAYS after it is made.
 *
 * One open request per user and type: while one is open (awaiting verification, in
 * progress, in force) a second answers the open one unchanged — decided by the unique
 * partial index, so two at once also give one — and never starts anything of its own, so
 * there is no second path around verification. The one exception goes through
 * verification: an erasure request with the password while one waits for it verifies the
 * waiting one (VerifyPrivacyRequest: a wrong password is 401, the request keeps waiting).
 *
 * Bounds on what a user can pile up: an access/export request while the user's last
 * archive lives (or within EXPORT_MIN_INTERVAL_MS of its completion) answers that completed
 * request with its live link — no new build; a consent withdrawal or opt-out of sale
 * repeated within RECORD_REPEAT_WINDOW_MS (same type and regime) answers the first.
 *
 * - `erasure`: with the password, identity checks it (401 `invalid_credentials` passes
 *   through and nothing is stored) and starts the same erasure as DELETE /v1/me; the
 *   request is `in_progress` with the erasureId and completes when the erasure's receipt
 *   does (AuditRequests). Without it, `awaiting_verification` until VerifyPrivacyRequest.
 * - `access` / `export`: `in_progress`; the archive is built (exports/) and the request
 *   completes with outcome `exported` and an expiring link.
 * - `restriction` / `objection`: `in_force` at once; ProcessingRestrictionChanged
 *   {restricted: true} is announced when the user had none in force.
 * - `consent_withdrawal` / `opt_out_of_sale`: recorded, `completed` at once, outcome
 *   `recorded` (nothing is used internally or sold, so recording is the whole effect).
 */
@Injectable()
export class CreatePrivacyRequest {
  constructor(
    private readonly transactor: Transactor,
    private readonly requests: PrivacyRequestsRepository,
    private readonly exports: ExportsRepository,
    private readonly builder: ExportBuilder,
    private readonly tombstones: UserTombstones,
    private readonly outbox: EventsOutbox,
    private readonly rpc: RpcClient,
    private readonly views: RequestViews,
    private readonly verify: VerifyPrivacyRequest,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  async execute(request: RpcRequestBody, caller: CallerContext): Promise<RetentionRpc.PrivacyRequestView> {
    const userId = requireUser(caller);
    if (await this.tombstones.isErased(userId)) throw RequestErrors.accountDeleted();
    const { type, regime } = request;
    for (let attempt = 0; ; attempt++) {
      const open = await this.requests.findOpen(userId, type);
      if (!open) break;
      // The waiting erasure asked for again with the password: verified now, exactly as
      // VerifyPrivacyRequest does (a wrong password is 401 and it keeps waiting).
      if (open.type === 'erasure' && open.status === 'awaiting_verification' && request.password !== undefined) {
        try {
          return await this.verify.execute(open.id, request.password, caller);
        } catch (error) {
          // Withdrawn or verified meanwhile: look again (a new request, or the verified one).
          if (attempt + 1 < INSERT_TRIES && error instanceof RpcError && error.code === 'not_awaiting_verification') continue;
          throw error;
        }
      }
      return this.views.forUser(open);
    }
    if (isExport(type)) {
      // One archive per user at a time and per EXPORT_MIN_INTERVAL_MS: while the last one lives, it is the answer.
      const recent = await this.exports.recentCompletedRequestOf(userId, this.clock.now(), EXPORT_MIN_INTERVAL_MS);
      const record = recent === undefined ? undefined : await this.requests.find(recent);
      if (record) return this.views.forUser(record);
    }

    let record: PrivacyRequestRecord;
    if (type === 'erasure') {
      // Identity first: a wrong password leaves nothing behind.
      const erasureId = request.password === undefined ? undefined : (await this.rpc.call(IdentityRpc.RequestErasureRoute, { userId, password: request.password }, { requestId: caller.requestId, userId })).erasureId;
      record = await this.insert(userId, type, regime, erasureId === undefined ? {} : { erasureId });
    } else if (isExport(type)) {
      record = await this.insert(userId, type, regime, { exportId: randomUUID() });
      if (record.exportId && record.status === 'in_progress') this.builder.start(record.exportId);
    } else {
      record = await this.insert(userId, type, regime, {});
    }
    return this.views.forUser(record);
  }

  /** Inserts the request (with what its type starts with) or, when one is open, answers that one. */
  private async insert(userId: string, type: PrivacyRequestType, regime: PrivacyRegime, extra: { erasureId?: string; exportId?: string }): Promise<PrivacyRequestRecord> {
    for (let attempt = 0; attempt < INSERT_TRIES; attempt++) {
      const now = this.clock.now();
      const status: PrivacyRequestStatus = initialStatus(type, extra.erasureId !== undefined);
      const fresh: NewPrivacyRequest = {
        id: randomUUID(),
        userId,
        type,
        regime,
        status,
        createdAt: now,
        dueAt: dueDate(now, regime),
        completedAt: status === 'completed' ? now : null,
        outcome: isRecordOnly(type) ? 'recorded' : isRestricting(type) ? 'restricted' : null,
        erasureId: extra.erasureId ?? null,
        exportId: extra.exportId ?? null,
      };
      const answered = await this.guarded(userId, async (): Promise<string | undefined> => {
        if (isRestricting(type)) await this.requests.lockRestrictionsOf(userId);
        if (isRecordOnly(type)) {
          // The same recording again within RECORD_REPEAT_WINDOW_MS answers the first (a burst of clicks, a script) — one row.
          await this.requests.lockTypeOf(userId, type);
          const recent = await this.requests.findRecent(userId, type, regime, new Date(now.getTime() - RECORD_REPEAT_WINDOW_MS));
          if (recent) return recent;
        }
        if (!(await this.requests.insertOpen(fresh))) return undefined;
        if (fresh.exportId) await this.exports.insertPending({ id: fresh.exportId, userId, requestId: fresh.id, createdAt: now });
        if (isRestricting(type) && !(await this.requests.otherRestrictionInForce(userId, fresh.id))) {
          await this.outbox.append(ProcessingRestrictionChangedV1, { userId, restricted: true, changedAt: now.toISOString() });
        }
        return fresh.id;
      });
      const record = answered !== undefined ? await this.requests.find(answered) : await this.requests.findOpen(userId, type);
      if (record) return record;
    }
    throw new Error('a privacy request could not be stored nor its open twin read');
  }

  private async guarded<T>(userId: string, write: () => Promise<T>): Promise<T> {
    try {
      return await this.transactor.run(async () => {
        await this.tombstones.guard(userId);
        return write();
      });
    } catch (error) {
      throw error instanceof UserErased ? RequestErrors.accountDeleted() : error;
    }
  }
}

type RpcRequestBody = { type: PrivacyRequestType; regime: PrivacyRegime; password?: string };
