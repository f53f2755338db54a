import { Body, Controller, Inject, Req } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import type { FastifyRequest } from 'fastify';
import { BillingRpc, ConfirmPasswordReset, DeleteMe, GetMe, IdentityRpc, LogIn, LogOut, Refresh, Register, RequestPasswordReset, UpdateMe, type CallerContext } from '@homiwork/contracts';
import { RpcClient, RpcError } from '@homiwork/messaging';
import { callerOf } from '../edge/request-context.js';
import { parseBody } from './parse-body.js';
import { ServeRoute } from './http-route.decorator.js';

/** The Accounts table of API.md: validate at the edge, then ask identity. */
@Controller()
export class AccountsController {
  /** Until when billing is known to be unreachable: no point asking on every request. */
  private billingDownUntil = 0;

  constructor(
    private readonly rpc: RpcClient,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  @ServeRoute(Register)
  register(@Body() body: unknown, @Req() request: FastifyRequest) {
    return this.rpc.call(IdentityRpc.RegisterRoute, parseBody(Register.body, body), callerOf(request));
  }

  @ServeRoute(LogIn)
  login(@Body() body: unknown, @Req() request: FastifyRequest) {
    return this.rpc.call(IdentityRpc.LoginRoute, parseBody(LogIn.body, body), callerOf(request));
  }

  @ServeRoute(Refresh)
  refresh(@Body() body: unknown, @Req() request: FastifyRequest) {
    return this.rpc.call(IdentityRpc.RefreshRoute, parseBody(Refresh.body, body), callerOf(request));
  }

  @ServeRoute(LogOut)
  async logout(@Body() body: unknown, @Req() request: FastifyRequest): Promise<void> {
    await this.rpc.call(IdentityRpc.LogoutRoute, parseBody(LogOut.body, body), callerOf(request));
  }

  @ServeRoute(RequestPasswordReset)
  requestPasswordReset(@Body() body: unknown, @Req() request: FastifyRequest) {
    return this.rpc.call(IdentityRpc.PasswordResetRequestRoute, parseBody(RequestPasswordReset.body, body), callerOf(request));
  }

  @ServeRoute(ConfirmPasswordReset)
  async confirmPasswordReset(@Body() body: unknown, @Req() request: FastifyRequest): Promise<void> {
    await this.rpc.call(IdentityRpc.PasswordResetConfirmRoute, parseBody(ConfirmPasswordReset.body, body), callerOf(request));
  }

  @ServeRoute(GetMe)
  me(@Req() request: FastifyRequest) {
    return this.profileWithEnergy(callerOf(request), (caller) => this.rpc.call(IdentityRpc.GetProfileRoute, {}, caller));
  }

  @ServeRoute(UpdateMe)
  updateMe(@Body() body: unknown, @Req() request: FastifyRequest) {
    const changes = parseBody(UpdateMe.body, body);
    return this.profileWithEnergy(callerOf(request), (caller) => this.rpc.call(IdentityRpc.UpdateProfileRoute, changes, caller));
  }

  @ServeRoute(DeleteMe)
  deleteMe(@Body() body: unknown, @Req() request: FastifyRequest) {
    return this.rpc.call(IdentityRpc.DeleteAccountRoute, parseBody(DeleteMe.body, body), callerOf(request));
  }

  /** The balance is billing's; while billing cannot answer, the profile says `energy: null` rather than a made-up number. */
  private async profileWithEnergy<P extends object>(caller: CallerContext, profile: (caller: CallerContext) => Promise<P>): Promise<P & { energy: number | null }> {
    const askBilling = this.clock.nowMs() >= this.billingDownUntil;
    const [user, balance] = await Promise.all([
      profile(caller),
      askBilling
        ? this.rpc.call(BillingRpc.GetBalanceRoute, {}, caller, { timeoutMs: 1_000 }).catch((error: unknown) => {
            if (!(error instanceof RpcError && error.status >= 500)) throw error;
            this.billingDownUntil = this.clock.nowMs() + 5_000;
            return null;
          })
        : null,
    ]);
    return { ...user, energy: balance?.energy ?? null };
  }
}
