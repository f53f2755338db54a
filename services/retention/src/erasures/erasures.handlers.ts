import { Injectable } from '@nestjs/common';
import {
  ErasureRequestedV1,
  ProhibitedContentDetectedV1,
  PurgeCompletedV1,
  RetentionConsumers,
  RetentionRpc,
  UserDeletedV1,
  type CallerContext,
  type EventPayload,
  type RpcRequest,
} from '@homiwork/contracts';
import type { EventContext } from '@homiwork/messaging';
import { OnEvent, OnRpc } from '@homiwork/service-kit';
import { ReceiptKeys } from './domain/receipt-keys.js';
import { GetErasure } from './usecases/get-erasure/get-erasure.usecase.js';
import { ListErasures } from './usecases/list-erasures/list-erasures.usecase.js';
import { ListLegalHolds } from './usecases/list-legal-holds/list-legal-holds.usecase.js';
import { OpenErasure } from './usecases/open-erasure/open-erasure.usecase.js';
import { PlaceLegalHold } from './usecases/place-legal-hold/place-legal-hold.usecase.js';
import { PurgeUser } from './usecases/purge-user/purge-user.usecase.js';
import { RecordPurge } from './usecases/record-purge/record-purge.usecase.js';
import { ReleaseLegalHold } from './usecases/release-legal-hold/release-legal-hold.usecase.js';

/**
 * Legal holds, erasures and their receipts, and retention's own purge: routes and event
 * handlers, each handing over to one use case. Event handlers run inside the consumer's
 * transaction, which the use cases join.
 */
@Injectable()
export class ErasuresHandlers {
  constructor(
    private readonly openErasure: OpenErasure,
    private readonly recordPurge: RecordPurge,
    private readonly purgeUser: PurgeUser,
    private readonly placeHold: PlaceLegalHold,
    private readonly releaseHold: ReleaseLegalHold,
    private readonly listHolds: ListLegalHolds,
    private readonly getErasure: GetErasure,
    private readonly listErasures: ListErasures,
    private readonly keys: ReceiptKeys,
  ) {}

  /** The stream sequence orders the request after the ProhibitedContentDetected before it (see OpenErasure). */
  @OnEvent(RetentionConsumers.erasureRequested)
  erasureRequested(payload: EventPayload<typeof ErasureRequestedV1>, context: EventContext): Promise<void> {
    return this.openErasure.execute(payload, context.streamSequence);
  }

  @OnEvent(RetentionConsumers.purgeCompleted)
  purgeCompleted(payload: EventPayload<typeof PurgeCompletedV1>): Promise<void> {
    return this.recordPurge.execute(payload);
  }

  /** Retention's own purge; the message id is the receipt's trigger (stable across redeliveries). */
  @OnEvent(RetentionConsumers.userDeleted)
  userDeleted(payload: EventPayload<typeof UserDeletedV1>, context: EventContext): Promise<void> {
    return this.purgeUser.execute(payload.userId, payload.erasureId, { type: UserDeletedV1.type, messageId: context.messageId });
  }

  @OnEvent(RetentionConsumers.prohibitedContentDetected)
  prohibitedContentDetected(payload: EventPayload<typeof ProhibitedContentDetectedV1>): Promise<void> {
    return this.placeHold.onProhibitedContent(payload);
  }

  @OnRpc(RetentionRpc.GetErasureRoute)
  erasure(request: RpcRequest<typeof RetentionRpc.GetErasureRoute>) {
    return this.getErasure.execute(request.erasureId);
  }

  @OnRpc(RetentionRpc.ReceiptKeysRoute)
  receiptKeys() {
    return Promise.resolve({ keys: this.keys.publicKeys() });
  }

  @OnRpc(RetentionRpc.AdminListErasuresRoute)
  adminErasures(request: RpcRequest<typeof RetentionRpc.AdminListErasuresRoute>, caller: CallerContext) {
    return this.listErasures.execute(request, caller);
  }

  @OnRpc(RetentionRpc.PlaceLegalHoldRoute)
  placeLegalHold(request: RpcRequest<typeof RetentionRpc.PlaceLegalHoldRoute>, caller: CallerContext) {
    return this.placeHold.byOperator(request, caller);
  }

  @OnRpc(RetentionRpc.ReleaseLegalHoldRoute)
  releaseLegalHold(request: RpcRequest<typeof RetentionRpc.ReleaseLegalHoldRoute>, caller: CallerContext) {
    return this.releaseHold.execute(request, caller);
  }

  @OnRpc(RetentionRpc.ListLegalHoldsRoute)
  legalHolds(request: RpcRequest<typeof RetentionRpc.ListLegalHoldsRoute>, caller: CallerContext) {
    return this.listHolds.execute(request, caller);
  }

  @OnRpc(RetentionRpc.ActiveHoldsRoute)
  activeHolds(request: RpcRequest<typeof RetentionRpc.ActiveHoldsRoute>) {
    return this.listHolds.heldAmong(request.userIds);
  }
}
