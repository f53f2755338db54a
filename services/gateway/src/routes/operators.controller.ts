import { Body, Controller, Param, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import {
  AdminListErasures,
  AdminListPrivacyRequests,
  BlockUser,
  EraseUser,
  IdentityRpc,
  ListLegalHolds,
  PlaceLegalHold,
  ReleaseLegalHold,
  RetentionRpc,
} from '@homiwork/contracts';
import { RpcClient } from '@homiwork/messaging';
import { callerOf } from '../edge/request-context.js';
import { GatewayError } from '../errors/gateway-error.js';
import { ServeRoute } from './http-route.decorator.js';
import { parseBody } from './parse-body.js';
import { booleanQuery, resourceId } from './request-params.js';

/**
 * API.md's "Operators" (role `operator`, checked by the auth guard from the route's data).
 * Holds and overdue lists are retention's; blocking and erasing accounts are identity's.
 * The operator's own id travels in the caller context, so each action is recorded by whom.
 */
@Controller()
export class OperatorsController {
  constructor(private readonly rpc: RpcClient) {}

  @ServeRoute(PlaceLegalHold)
  placeHold(@Body() body: unknown, @Req() request: FastifyRequest) {
    return this.rpc.call(RetentionRpc.PlaceLegalHoldRoute, parseBody(PlaceLegalHold.body, body), callerOf(request));
  }

  @ServeRoute(ReleaseLegalHold)
  async releaseHold(@Param('id') id: string, @Req() request: FastifyRequest): Promise<void> {
    await this.rpc.call(RetentionRpc.ReleaseLegalHoldRoute, { id: resourceId(id) }, callerOf(request));
  }

  @ServeRoute(ListLegalHolds)
  holds(@Req() request: FastifyRequest) {
    const userId = (request.query as Record<string, unknown> | undefined)?.userId;
    if (userId !== undefined && (typeof userId !== 'string' || !RetentionRpc.ListLegalHoldsRoute.request.shape.userId.safeParse(userId).success)) {
      throw new GatewayError(400, 'validation_failed', 'userId: must be a UUID');
    }
    return this.rpc.call(RetentionRpc.ListLegalHoldsRoute, { ...(userId === undefined ? {} : { userId }), ...pageCursorQuery(request.query) }, callerOf(request));
  }

  @ServeRoute(BlockUser)
  async block(@Param('id') id: string, @Body() body: unknown, @Req() request: FastifyRequest): Promise<void> {
    await this.rpc.call(IdentityRpc.AdminBlockUserRoute, { userId: resourceId(id), ...parseBody(BlockUser.body, body) }, callerOf(request));
  }

  @ServeRoute(EraseUser)
  erase(@Param('id') id: string, @Body() body: unknown, @Req() request: FastifyRequest) {
    return this.rpc.call(IdentityRpc.AdminEraseUserRoute, { userId: resourceId(id), ...parseBody(EraseUser.body, body) }, callerOf(request));
  }

  @ServeRoute(AdminListPrivacyRequests)
  requests(@Req() request: FastifyRequest) {
    return this.rpc.call(RetentionRpc.AdminListPrivacyRequestsRoute, { overdue: booleanQuery(request.query, 'overdue', false) }, callerOf(request));
  }

  @ServeRoute(AdminListErasures)
  erasures(@Req() request: FastifyRequest) {
    return this.rpc.call(RetentionRpc.AdminListErasuresRoute, { overdue: booleanQuery(request.query, 'overdue', false), ...pageCursorQuery(request.query) }, callerOf(request));
  }
}

/**
 * `?before=<ISO time>&beforeId=<uuid>`: the next page of an operators' list (the last item's
 * time and id; RetentionRpc.OPERATOR_LIST_PAGE_SIZE items a page). A malformed value, or
 * `beforeId` without `before`, is a 400 naming it.
 */
function pageCursorQuery(query: unknown): { before?: string; beforeId?: string } {
  const { before, beforeId } = (query as Record<string, unknown> | undefined) ?? {};
  const shape = RetentionRpc.AdminListErasuresRoute.request.shape;
  if (before !== undefined && (typeof before !== 'string' || !shape.before.safeParse(before).success)) throw new GatewayError(400, 'validation_failed', 'before: must be an ISO 8601 UTC time');
  if (beforeId !== undefined && (typeof beforeId !== 'string' || !shape.beforeId.safeParse(beforeId).success)) throw new GatewayError(400, 'validation_failed', 'beforeId: must be a UUID');
  if (beforeId !== undefined && before === undefined) throw new GatewayError(400, 'validation_failed', 'beforeId: only together with before');
  return { ...(before === undefined ? {} : { before }), ...(beforeId === undefined ? {} : { beforeId }) };
}
