import { createDecipheriv } from 'node:crypto';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Body, Controller, Inject, Param, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  CreatePrivacyRequest,
  DownloadExport,
  GetErasure,
  GetPrivacyRequest,
  GetReceiptKeys,
  ListPrivacyRequests,
  RetentionRpc,
  VerifyPrivacyRequest,
  WithdrawPrivacyRequest,
} from '@homiwork/contracts';
import { RpcClient } from '@homiwork/messaging';
import { GatewayConfig } from '../config.js';
import { callerOf } from '../edge/request-context.js';
import { GatewayError } from '../errors/gateway-error.js';
import { ServeRoute } from './http-route.decorator.js';
import { fetchObject } from './object-fetch.js';
import { parseBody } from './parse-body.js';
import { resourceId } from './request-params.js';

/**
 * API.md's "Privacy rights": requests and erasure receipts live in retention. The export
 * download is the one route here that moves bytes: the archive is stored encrypted, and
 * retention hands over its signed URL and one-off key only for a link's valid token; the
 * gateway decrypts while streaming (GCM's tag, pinned to 16 bytes, is checked at the end;
 * the plaintext is streamed before the check but its last chunk is held back until the
 * check passes, so a tampered archive ends in an aborted transfer — fewer bytes than
 * `content-length` — never a complete file; docs/privacy-export-format.md tells clients to
 * treat a short download as failed).
 */
@Controller()
export class PrivacyController {
  constructor(
    private readonly rpc: RpcClient,
    @Inject(GatewayConfig) private readonly config: GatewayConfig,
  ) {}

  @ServeRoute(CreatePrivacyRequest)
  create(@Body() body: unknown, @Req() request: FastifyRequest) {
    return this.rpc.call(RetentionRpc.CreatePrivacyRequestRoute, parseBody(CreatePrivacyRequest.body, body), callerOf(request));
  }

  @ServeRoute(ListPrivacyRequests)
  list(@Req() request: FastifyRequest) {
    const before = (request.query as Record<string, unknown> | undefined)?.before;
    if (before !== undefined && (typeof before !== 'string' || !RetentionRpc.ListPrivacyRequestsRoute.request.shape.before.safeParse(before).success)) {
      throw new GatewayError(400, 'validation_failed', 'before: must be the id (a UUID) of a privacy request, the last item of the page before');
    }
    return this.rpc.call(RetentionRpc.ListPrivacyRequestsRoute, before === undefined ? {} : { before }, callerOf(request));
  }

  @ServeRoute(GetPrivacyRequest)
  get(@Param('id') id: string, @Req() request: FastifyRequest) {
    return this.rpc.call(RetentionRpc.GetPrivacyRequestRoute, { id: resourceId(id) }, callerOf(request));
  }

  @ServeRoute(VerifyPrivacyRequest)
  verify(@Param('id') id: string, @Body() body: unknown, @Req() request: FastifyRequest) {
    return this.rpc.call(RetentionRpc.VerifyPrivacyRequestRoute, { id: resourceId(id), ...parseBody(VerifyPrivacyRequest.body, body) }, callerOf(request));
  }

  @ServeRoute(WithdrawPrivacyRequest)
  withdraw(@Param('id') id: string, @Req() request: FastifyRequest) {
    return this.rpc.call(RetentionRpc.WithdrawPrivacyRequestRoute, { id: resourceId(id) }, callerOf(request));
  }

  @ServeRoute(GetErasure)
  erasure(@Param('erasureId') erasureId: string, @Req() request: FastifyRequest) {
    return this.rpc.call(RetentionRpc.GetErasureRoute, { erasureId: resourceId(erasureId) }, callerOf(request));
  }

  @ServeRoute(GetReceiptKeys)
  keys(@Req() request: FastifyRequest) {
    return this.rpc.call(RetentionRpc.ReceiptKeysRoute, {}, callerOf(request));
  }

  @ServeRoute(DownloadExport)
  async download(@Param('id') id: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const token = (request.query as Record<string, unknown> | undefined)?.token;
    if (typeof token !== 'string' || token.length === 0 || token.length > 512) throw new GatewayError(400, 'validation_failed', 'token: the download link’s token is required');
    const opened = await this.rpc.call(RetentionRpc.OpenExportRoute, { exportId: resourceId(id), token }, callerOf(request));
    const answer = await fetchObject(opened.url, this.config.RPC_TIMEOUT_MS);
    // The tag's length pinned: a shortened tag handed over would otherwise be accepted (and checked on fewer bits).
    const decipher = createDecipheriv('aes-256-gcm', Buffer.from(opened.key, 'base64'), Buffer.from(opened.iv, 'base64'), { authTagLength: 16 });
    decipher.setAuthTag(Buffer.from(opened.tag, 'base64'));
    const body = Readable.fromWeb(answer.body as never);
    reply
      .status(200)
      .header('content-type', 'application/x-tar')
      .header('content-disposition', `attachment; filename="${opened.fileName.replace(/[^A-Za-z0-9._-]/g, '_')}"`)
      .header('cache-control', 'private, no-store');
    // The plaintext length is the ciphertext's (GCM adds no padding; the tag is kept apart).
    reply.header('content-length', String(opened.bytes));
    // The last chunk is held back until the tag has been checked: a failed check breaks the
    // transfer off short of `content-length`, so a client never gets a complete file whose
    // tag failed (every other byte is streamed as it is decrypted).
    const plaintext = new PassThrough();
    void pipeline(body, decipher, holdBackLastChunk(), plaintext).catch(() => plaintext.destroy(new Error('export archive failed its integrity check')));
    await reply.send(plaintext);
  }
}

/**
 * Passes chunks on one behind: each is sent when the next arrives, the last one only when
 * the stream before it ends cleanly. After a decipher, that end is GCM's tag check.
 */
function holdBackLastChunk(): Transform {
  let held: Buffer | undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const previous = held;
      held = chunk;
      done(null, previous);
    },
    flush(done) {
      done(null, held);
    },
  });
}
