import { Body, Controller, Inject, Param, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ChatRpc, ClearMessages, ListAssistants, ListMessages, SendMessage } from '@homiwork/contracts';
import { RpcClient } from '@homiwork/messaging';
import { GatewayConfig } from '../config.js';
import { callerOf } from '../edge/request-context.js';
import { ServeRoute } from './http-route.decorator.js';
import { parseBody } from './parse-body.js';
import { assistantId } from './request-params.js';

/**
 * How long a send may take: longer than chat's worst case, so chat's answer decides — the
 * reply, or a clear error with the message kept unanswered and the energy refunded. Chat's
 * worst case is the energy reservation (billing RPC, up to RPC_TIMEOUT_MS = 10 s) + the reply
 * wait (35 s; generation gives up on the contractor after CHAT_REPLY_TIMEOUT_MS, 30 s by
 * default) + moderation and two short transactions: 10 + 35 + a few seconds, under 60 s.
 * With the default RPC time-out (10 s) a slow reply was answered 504 while chat went on to
 * store it and charge for it (e2e/chat.e2e.ts).
 */
export const SEND_MESSAGE_TIMEOUT_MS = 60_000;

/**
 * API.md's Assistants table. The conversation is always the caller's own: chat keys every
 * read and write by the caller's user id, never by anything in the request.
 */
@Controller()
export class AssistantsController {
  constructor(
    private readonly rpc: RpcClient,
    @Inject(GatewayConfig) private readonly config: GatewayConfig,
  ) {}

  @ServeRoute(ListAssistants)
  list(@Req() request: FastifyRequest) {
    return this.rpc.call(ChatRpc.ListAssistantsRoute, {}, callerOf(request));
  }

  @ServeRoute(SendMessage)
  send(@Param('assistantId') id: string, @Body() body: unknown, @Req() request: FastifyRequest) {
    const conversation = { assistantId: assistantId(id) };
    const timeoutMs = Math.max(SEND_MESSAGE_TIMEOUT_MS, this.config.RPC_TIMEOUT_MS);
    return this.rpc.call(ChatRpc.SendMessageRoute, { ...conversation, ...parseBody(SendMessage.body, body) }, callerOf(request), { timeoutMs });
  }

  @ServeRoute(ListMessages)
  messages(@Param('assistantId') id: string, @Req() request: FastifyRequest) {
    return this.rpc.call(ChatRpc.ListMessagesRoute, { assistantId: assistantId(id) }, callerOf(request));
  }

  @ServeRoute(ClearMessages)
  async clear(@Param('assistantId') id: string, @Req() request: FastifyRequest): Promise<void> {
    await this.rpc.call(ChatRpc.ClearMessagesRoute, { assistantId: assistantId(id) }, callerOf(request));
  }
}
