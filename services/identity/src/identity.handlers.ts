import { Injectable } from '@nestjs/common';
import {
  exportSliceRoute,
  IdentityConsumers,
  IdentityRpc,
  type CallerContext,
  type ErasureApprovedV1,
  type EventPayload,
  type InactiveAccountDueV1,
  type PrimeStatusChangedV1,
  type ProhibitedContentDetectedV1,
  type RpcRequest,
} from '@homiwork/contracts';
import { OnEvent, OnRpc } from '@homiwork/service-kit';
import { BlockAccount } from './usecases/block-account/block-account.usecase.js';
import { ConfirmPasswordReset } from './usecases/confirm-password-reset/confirm-password-reset.usecase.js';
import { DeleteAccount } from './usecases/delete-account/delete-account.usecase.js';
import { EraseInactiveAccount } from './usecases/erase-inactive-account/erase-inactive-account.usecase.js';
import { ExportIdentitySlice } from './usecases/export-slice/export-slice.usecase.js';
import { GetIdentifiers } from './usecases/get-identifiers/get-identifiers.usecase.js';
import { GetProfile } from './usecases/get-profile/get-profile.usecase.js';
import { LogIn } from './usecases/log-in/log-in.usecase.js';
import { LogOut } from './usecases/log-out/log-out.usecase.js';
import { OperatorBlockUser } from './usecases/operator-block-user/operator-block-user.usecase.js';
import { OperatorEraseUser } from './usecases/operator-erase-user/operator-erase-user.usecase.js';
import { PrivacyErasure } from './usecases/privacy-erasure/privacy-erasure.usecase.js';
import { RecordActivity } from './usecases/record-activity/record-activity.usecase.js';
import { RecordPrimeStatus } from './usecases/record-prime-status/record-prime-status.usecase.js';
import { RefreshSession } from './usecases/refresh-session/refresh-session.usecase.js';
import { RegisterUser } from './usecases/register-user/register-user.usecase.js';
import { RequestPasswordReset } from './usecases/request-password-reset/request-password-reset.usecase.js';
import { UpdateProfile } from './usecases/update-profile/update-profile.usecase.js';
import { WarnInactiveAccount } from './usecases/warn-inactive-account/warn-inactive-account.usecase.js';

/** Identity's part of a user's export (R7.1), asked by retention. */
export const IdentityExportSliceRoute = exportSliceRoute('identity');

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
    private readonly operatorBlockUser: OperatorBlockUser,
    private readonly operatorEraseUser: OperatorEraseUser,
    private readonly privacyErasure: PrivacyErasure,
    private readonly warnInactiveAccount: WarnInactiveAccount,
    private readonly eraseInactiveAccount: EraseInactiveAccount,
    private readonly exportSlice: ExportIdentitySlice,
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

  /** Operators (§12.2): block an account; the role is checked in the use case too. */
  @OnRpc(IdentityRpc.AdminBlockUserRoute)
  adminBlock(request: RpcRequest<typeof IdentityRpc.AdminBlockUserRoute>, caller: CallerContext) {
    return this.operatorBlockUser.execute(request, caller);
  }

  /** Operators (§13.2): erase an account at once — asked for like any erasure, deleted on retention's approval. */
  @OnRpc(IdentityRpc.AdminEraseUserRoute)
  adminErase(request: RpcRequest<typeof IdentityRpc.AdminEraseUserRoute>, caller: CallerContext) {
    return this.operatorEraseUser.execute(request, caller);
  }

  /** Retention only: a privacy request of type erasure, verified with the password. */
  @OnRpc(IdentityRpc.RequestErasureRoute)
  erasureRequest(request: RpcRequest<typeof IdentityRpc.RequestErasureRoute>, caller: CallerContext) {
    return this.privacyErasure.execute(request, caller);
  }

  /** Retention only: identity's slice of the user's export. */
  @OnRpc(IdentityExportSliceRoute)
  exportSliceOf(request: RpcRequest<typeof IdentityExportSliceRoute>) {
    return this.exportSlice.execute(request);
  }

  /** Retention's go-ahead (no legal hold stands): delete the account; a redelivery finds it gone. */
  @OnEvent(IdentityConsumers.erasureApproved)
  async erasureApproved(payload: EventPayload<typeof ErasureApprovedV1>): Promise<void> {
    await this.deleteAccount.erase(payload.userId, payload.erasureId);
  }

  /** §5.2: a year without access — warn first, then ask for the erasure. */
  @OnEvent(IdentityConsumers.inactiveAccountDue)
  async inactiveAccountDue(payload: EventPayload<typeof InactiveAccountDueV1>): Promise<void> {
    if (payload.stage === 'warning') await this.warnInactiveAccount.execute(payload);
    else await this.eraseInactiveAccount.execute(payload);
  }
}
