import { Injectable } from '@nestjs/common';
import { IdentityConsumers, IdentityRpc, type CallerContext, type EventPayload, type PrimeStatusChangedV1, type ProhibitedContentDetectedV1, type RpcRequest } from '@homiwork/contracts';
import { OnEvent, OnRpc } from '@homiwork/service-kit';
import { BlockAccount } from './usecases/block-account/block-account.usecase.js';
import { ConfirmPasswordReset } from './usecases/confirm-password-reset/confirm-password-reset.usecase.js';
import { DeleteAccount } from './usecases/delete-account/delete-account.usecase.js';
import { GetIdentifiers } from './usecases/get-identifiers/get-identifiers.usecase.js';
import { GetProfile } from './usecases/get-profile/get-profile.usecase.js';
import { LogIn } from './usecases/log-in/log-in.usecase.js';
import { LogOut } from './usecases/log-out/log-out.usecase.js';
import { RecordActivity } from './usecases/record-activity/record-activity.usecase.js';
import { RecordPrimeStatus } from './usecases/record-prime-status/record-prime-status.usecase.js';
import { RefreshSession } from './usecases/refresh-session/refresh-session.usecase.js';
import { RegisterUser } from './usecases/register-user/register-user.usecase.js';
import { RequestPasswordReset } from './usecases/request-password-reset/request-password-reset.usecase.js';
import { UpdateProfile } from './usecases/update-profile/update-profile.usecase.js';

/**
 * Identity's request/reply routes and event handlers: each hands over to one use case.
 * Event handlers run inside the consumer's transaction, which the use cases join.
 */
@Injectable()
export class IdentityHandlers {
  constructor(
    private readonly registerUser: RegisterUser,
    private readonly logIn: LogIn,
    private readonly refreshSession: RefreshSession,
    private readonly logOut: LogOut,
    private readonly requestPasswordReset: RequestPasswordReset,
    private readonly confirmPasswordReset: ConfirmPasswordReset,
    private readonly getProfile: GetProfile,
    private readonly getIdentifiers: GetIdentifiers,
    private readonly updateProfile: UpdateProfile,
    private readonly deleteAccount: DeleteAccount,
    private readonly recordActivity: RecordActivity,
    private readonly recordPrimeStatus: RecordPrimeStatus,
    private readonly blockAccount: BlockAccount,
  ) {}

  @OnRpc(IdentityRpc.RegisterRoute)
  register(request: RpcRequest<typeof IdentityRpc.RegisterRoute>, caller: CallerContext) {
    return this.registerUser.execute(request, caller);
  }

  @OnRpc(IdentityRpc.LoginRoute)
  login(request: RpcRequest<typeof IdentityRpc.LoginRoute>, caller: CallerContext) {
    return this.logIn.execute(request, caller);
  }

  @OnRpc(IdentityRpc.RefreshRoute)
  refresh(request: RpcRequest<typeof IdentityRpc.RefreshRoute>, caller: CallerContext) {
    return this.refreshSession.execute(request, caller);
  }

  @OnRpc(IdentityRpc.LogoutRoute)
  logout(request: RpcRequest<typeof IdentityRpc.LogoutRoute>, caller: CallerContext) {
    return this.logOut.execute(request, caller);
  }

  @OnRpc(IdentityRpc.PasswordResetRequestRoute)
  passwordResetRequest(request: RpcRequest<typeof IdentityRpc.PasswordResetRequestRoute>, caller: CallerContext) {
    return this.requestPasswordReset.execute(request, caller);
  }

  @OnRpc(IdentityRpc.PasswordResetConfirmRoute)
  passwordResetConfirm(request: RpcRequest<typeof IdentityRpc.PasswordResetConfirmRoute>, caller: CallerContext) {
    return this.confirmPasswordReset.execute(request, caller);
  }

  @OnRpc(IdentityRpc.GetProfileRoute)
  me(_request: unknown, caller: CallerContext) {
    return this.getProfile.execute(caller);
  }

  /** Service-to-service only (the route's callers): generation, chat and billing. */
  @OnRpc(IdentityRpc.GetIdentifiersRoute)
  identifiers(request: RpcRequest<typeof IdentityRpc.GetIdentifiersRoute>) {
    return this.getIdentifiers.execute(request.userId);
  }

  @OnRpc(IdentityRpc.UpdateProfileRoute)
  updateMe(request: RpcRequest<typeof IdentityRpc.UpdateProfileRoute>, caller: CallerContext) {
    return this.updateProfile.execute(request, caller);
  }

  @OnRpc(IdentityRpc.DeleteAccountRoute)
  deleteMe(request: RpcRequest<typeof IdentityRpc.DeleteAccountRoute>, caller: CallerContext) {
    return this.deleteAccount.execute(request, caller);
  }

  @OnRpc(IdentityRpc.RecordActivityRoute)
  activity(_request: unknown, caller: CallerContext) {
    return this.recordActivity.execute(caller);
  }

  /** Billing announces Prime changes; identity keeps the copy the profile shows. */
  @OnEvent(IdentityConsumers.primeStatusChanged)
  primeChanged(payload: EventPayload<typeof PrimeStatusChangedV1>): Promise<void> {
    return this.recordPrimeStatus.execute(payload);
  }

  /** Moderation found prohibited content (§12.2): block the uploader at once. */
  @OnEvent(IdentityConsumers.prohibitedContentDetected)
  async prohibitedContent(payload: EventPayload<typeof ProhibitedContentDetectedV1>): Promise<void> {
    await this.blockAccount.execute(payload.userId, 'prohibited_content');
  }
}
