import { Injectable } from '@nestjs/common';
import { RetentionRpc, type CallerContext, type RpcRequest } from '@homiwork/contracts';
import { OnRpc } from '@homiwork/service-kit';
import { CreatePrivacyRequest } from './usecases/create-request/create-request.usecase.js';
import { ReadPrivacyRequests } from './usecases/read-requests/read-requests.usecase.js';
import { VerifyPrivacyRequest } from './usecases/verify-request/verify-request.usecase.js';
import { WithdrawPrivacyRequest } from './usecases/withdraw-request/withdraw-request.usecase.js';

/** Privacy requests' routes (§9): each hands over to one use case. */
@Injectable()
export class RequestsHandlers {
  constructor(
    private readonly createRequest: CreatePrivacyRequest,
    private readonly verifyRequest: VerifyPrivacyRequest,
    private readonly withdrawRequest: WithdrawPrivacyRequest,
    private readonly readRequests: ReadPrivacyRequests,
  ) {}

  @OnRpc(RetentionRpc.CreatePrivacyRequestRoute)
  create(request: RpcRequest<typeof RetentionRpc.CreatePrivacyRequestRoute>, caller: CallerContext) {
    return this.createRequest.execute(request, caller);
  }

  @OnRpc(RetentionRpc.ListPrivacyRequestsRoute)
  list(request: RpcRequest<typeof RetentionRpc.ListPrivacyRequestsRoute>, caller: CallerContext) {
    return this.readRequests.list(request.before, caller);
  }

  @OnRpc(RetentionRpc.GetPrivacyRequestRoute)
  get(request: RpcRequest<typeof RetentionRpc.GetPrivacyRequestRoute>, caller: CallerContext) {
    return this.readRequests.get(request.id, caller);
  }

  @OnRpc(RetentionRpc.VerifyPrivacyRequestRoute)
  verify(request: RpcRequest<typeof RetentionRpc.VerifyPrivacyRequestRoute>, caller: CallerContext) {
    return this.verifyRequest.execute(request.id, request.password, caller);
  }

  @OnRpc(RetentionRpc.WithdrawPrivacyRequestRoute)
  withdraw(request: RpcRequest<typeof RetentionRpc.WithdrawPrivacyRequestRoute>, caller: CallerContext) {
    return this.withdrawRequest.execute(request.id, caller);
  }

  @OnRpc(RetentionRpc.AdminListPrivacyRequestsRoute)
  adminList(request: RpcRequest<typeof RetentionRpc.AdminListPrivacyRequestsRoute>, caller: CallerContext) {
    return this.readRequests.adminList(request.overdue, caller);
  }
}
