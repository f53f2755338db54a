import { Readable } from 'node:stream';
import { Controller, Inject, Param, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CreateUpload, DeleteUpload, GetUpload, GetUploadFile, ListUploads, MediaRpc } from '@homiwork/contracts';
import { RpcClient } from '@homiwork/messaging';
import { GatewayConfig } from '../config.js';
import { callerOf } from '../edge/request-context.js';
import { GatewayError } from '../errors/gateway-error.js';
import { ServeRoute } from './http-route.decorator.js';
import { resourceId } from './request-params.js';

/**
 * The Uploads table of API.md. Bytes stream straight through to media's internal API
 * (never buffered, never written here); metadata calls go over NATS.
 */
@Controller()
export class UploadsController {
  constructor(
    private readonly rpc: RpcClient,
    @Inject(GatewayConfig) private readonly config: GatewayConfig,
  ) {}

  @ServeRoute(CreateUpload)
  async create(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    if (!request.isMultipart()) throw new GatewayError(415, 'unsupported_type', 'send the file as multipart/form-data in the field `file`');
    const part = await request.file({ limits: { fileSize: this.config.UPLOAD_MAX_BYTES, files: 1, fields: 0 } });
    if (!part || part.fieldname !== CreateUpload.multipartField) {
      part?.file.resume();
      throw new GatewayError(400, 'missing_file', 'send the file in the multipart field `file`');
    }
    let answer: Response;
    try {
      answer = await fetch(`${this.config.MEDIA_INTERNAL_URL}/internal/uploads`, {
        method: 'POST',
        headers: {
          ...this.internalHeaders(request),
          'content-type': 'application/octet-stream',
          // Used only to refuse a file whose name or declared type contradicts its bytes; never stored.
          'hw-declared-filename': encodeURIComponent(part.filename.slice(0, 255)),
          'hw-declared-type': part.mimetype.slice(0, 255),
        },
        body: part.file,
        duplex: 'half',
      });
    } catch (error) {
      if (part.file.truncated || (error as { cause?: { code?: string } }).cause?.code === 'FST_REQ_FILE_TOO_LARGE') {
        throw new GatewayError(413, 'file_too_large', `files may be at most ${Math.round(this.config.UPLOAD_MAX_BYTES / 1024 / 1024)} MB`);
      }
      throw new GatewayError(503, 'service_unavailable', 'the media service is unavailable');
    }
    if (part.file.truncated) throw new GatewayError(413, 'file_too_large', `files may be at most ${Math.round(this.config.UPLOAD_MAX_BYTES / 1024 / 1024)} MB`);
    await reply.status(answer.status).header('content-type', 'application/json; charset=utf-8').send(await answer.text());
  }

  @ServeRoute(ListUploads)
  list(@Req() request: FastifyRequest) {
    return this.rpc.call(MediaRpc.ListUploadsRoute, {}, callerOf(request));
  }

  @ServeRoute(GetUpload)
  get(@Param('id') id: string, @Req() request: FastifyRequest) {
    return this.rpc.call(MediaRpc.GetUploadRoute, { id: resourceId(id) }, callerOf(request));
  }

  @ServeRoute(GetUploadFile)
  async file(@Param('id') id: string, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const answer = await fetch(`${this.config.MEDIA_INTERNAL_URL}/internal/uploads/${resourceId(id)}/file`, { headers: this.internalHeaders(request) }).catch(() => {
      throw new GatewayError(503, 'service_unavailable', 'the media service is unavailable');
    });
    if (!answer.ok || !answer.body) {
      await reply.status(answer.status).header('content-type', 'application/json; charset=utf-8').send(await answer.text());
      return;
    }
    await reply
      .status(200)
      .header('content-type', answer.headers.get('content-type') ?? 'application/octet-stream')
      .header('content-length', answer.headers.get('content-length') ?? undefined)
      .header('cache-control', 'private, no-store')
      .send(Readable.fromWeb(answer.body as never));
  }

  @ServeRoute(DeleteUpload)
  async delete(@Param('id') id: string, @Req() request: FastifyRequest): Promise<void> {
    await this.rpc.call(MediaRpc.DeleteUploadRoute, { id: resourceId(id) }, callerOf(request));
  }

  private internalHeaders(request: FastifyRequest): Record<string, string> {
    return { authorization: `Bearer ${this.config.INTERNAL_API_TOKEN}`, 'hw-caller': JSON.stringify(callerOf(request)) };
  }
}
