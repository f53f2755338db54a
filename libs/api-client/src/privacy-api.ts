import {
  AdminListErasures,
  AdminListPrivacyRequests,
  BlockUser,
  CreatePrivacyRequest,
  EraseUser,
  GetErasure,
  GetPrivacyRequest,
  GetReceiptKeys,
  ListLegalHolds,
  ListPrivacyRequests,
  PlaceLegalHold,
  ReleaseLegalHold,
  VerifyPrivacyRequest,
  WithdrawPrivacyRequest,
  type HttpBody,
  type HttpResponse,
} from '@homiwork/contracts';
import type { ApiClient } from './api-client.js';

/** The privacy-rights routes (§9, §10): requests, erasure receipts and their keys. */
export class PrivacyApi {
  constructor(private readonly client: ApiClient) {}

  request(body: HttpBody<typeof CreatePrivacyRequest>): Promise<HttpResponse<typeof CreatePrivacyRequest>> {
    return this.client.call(CreatePrivacyRequest, { body });
  }

  /** The newest 100; `before` (the last item's id) pages on. */
  requests(before?: string): Promise<HttpResponse<typeof ListPrivacyRequests>> {
    return this.client.call(ListPrivacyRequests, { query: { before } });
  }

  get(id: string): Promise<HttpResponse<typeof GetPrivacyRequest>> {
    return this.client.call(GetPrivacyRequest, { params: { id } });
  }

  verify(id: string, password: string): Promise<HttpResponse<typeof VerifyPrivacyRequest>> {
    return this.client.call(VerifyPrivacyRequest, { params: { id }, body: { password } });
  }

  withdraw(id: string): Promise<HttpResponse<typeof WithdrawPrivacyRequest>> {
    return this.client.call(WithdrawPrivacyRequest, { params: { id } });
  }

  erasure(erasureId: string): Promise<HttpResponse<typeof GetErasure>> {
    return this.client.call(GetErasure, { params: { erasureId } });
  }

  receiptKeys(): Promise<HttpResponse<typeof GetReceiptKeys>> {
    return this.client.call(GetReceiptKeys);
  }
}

/** The operators' routes (role `operator`). */
export class OperatorsApi {
  constructor(private readonly client: ApiClient) {}

  placeHold(userId: string, reason: string): Promise<HttpResponse<typeof PlaceLegalHold>> {
    return this.client.call(PlaceLegalHold, { body: { userId, reason } });
  }

  async releaseHold(id: string): Promise<void> {
    await this.client.call(ReleaseLegalHold, { params: { id } });
  }

  /** Pages of 200, newest first; `page` is the last item's time and id. */
  holds(userId?: string, page?: { before: string; beforeId: string }): Promise<HttpResponse<typeof ListLegalHolds>> {
    return this.client.call(ListLegalHolds, { query: { userId, ...page } });
  }

  async block(userId: string, reason: string): Promise<void> {
    await this.client.call(BlockUser, { params: { id: userId }, body: { reason } });
  }

  erase(userId: string, reason: string): Promise<HttpResponse<typeof EraseUser>> {
    return this.client.call(EraseUser, { params: { id: userId }, body: { reason } });
  }

  privacyRequests(overdue = false): Promise<HttpResponse<typeof AdminListPrivacyRequests>> {
    return this.client.call(AdminListPrivacyRequests, { query: { overdue: String(overdue) } });
  }

  /** Pages of 200, newest first; `page` is the last item's `requestedAt` and id. */
  erasures(overdue = false, page?: { before: string; beforeId: string }): Promise<HttpResponse<typeof AdminListErasures>> {
    return this.client.call(AdminListErasures, { query: { overdue: String(overdue), ...page } });
  }
}
