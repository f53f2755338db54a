import { Readable } from 'node:stream';
import { Controller, Inject, Param, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DeleteContent, GenerationRpc, GetContent, GetContentFile, ListContents, RestoreContent } from '@homiwork/contracts';
import { RpcClient } from '@homiwork/messaging';
import { GatewayConfig } from '../config.js';
import { callerOf } from '../edge/request-context.js';
import { ServeRoute } from './http-route.decorator.js';
import { fetchObject } from './object-fetch.js';
import { booleanQuery, resourceId } from './request-params.js';

/**
 * The content half of API.md's "Generations and content". Metadata over NATS; the bytes
 * come from the object store through a signed URL (≤ 15 minutes) that generation hands
 * out: streamed through here by default, so the client never sees the store, or given to
 * the client as a 302 with `?redirect=true`.
 */
@Controller()
export class ContentsController {
  constructor(
    private readonly rpc: RpcClient,
    @Inject(GatewayConfig) private readonly config: GatewayConfig,
  ) {}

  @ServeRoute(ListContents)
  list(@Req() request: FastifyRequest) {
    return this.rpc.call(GenerationRpc.ListContentsRoute, { deleted: booleanQuery(request.query, 'deleted', false) }, callerOf(request));
  }

  @ServeRoute(GetContent)
  get(@Param('id') id: string, @Req() request: FastifyRequest) {
    return this.rpc.call(GenerationRpc.GetContentRoute, { id: resourceId(id) }, callerOf(request));
  }

  @ServeRoute(GetContentFile)
  async file(@Param('id') id: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const redirect = booleanQuery(request.query, 'redirect', false);
    const signed = await this.rpc.call(GenerationRpc.GetContentFileRoute, { id: resourceId(id) }, callerOf(request));
    if (redirect) {
      await reply.status(302).header('location', signed.url).header('cache-control', 'private, no-store').send();
      return;
    }
    const answer = await fetchObject(signed.url, this.config.RPC_TIMEOUT_MS);
    await reply
      .status(200)
      .header('content-type', signed.mimeType)
      .header('content-length', answer.headers.get('content-length') ?? String(signed.bytes))
      .header('cache-control', 'private, no-store')
      .send(Readable.fromWeb(answer.body as never));
  }

  @ServeRoute(DeleteContent)
  async delete(@Param('id') id: string, @Req() request: FastifyRequest): Promise<void> {
    await this.rpc.call(GenerationRpc.DeleteContentRoute, { id: resourceId(id) }, callerOf(request));
  }

  @ServeRoute(RestoreContent)
  restore(@Param('id') id: string, @Req() request: FastifyRequest) {
    return this.rpc.call(GenerationRpc.RestoreContentRoute, { id: resourceId(id) }, callerOf(request));
  }
}
