import { timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CallerContext } from '@homiwork/contracts';
import { RpcError } from '@homiwork/messaging';
import type { Logger } from '@homiwork/observability';
import { MediaErrors } from '../media-errors.js';
import { UploadRejected } from '../processing/index.js';
import type { GetUploadFile } from '../usecases/get-upload-file/get-upload-file.usecase.js';
import type { StoreUpload } from '../usecases/store-upload/store-upload.usecase.js';

/** Headers of the internal byte API, shared with the gateway. */
export const INTERNAL_HEADERS = { caller: 'hw-caller', declaredName: 'hw-declared-filename', declaredType: 'hw-declared-type' } as const;

export interface InternalRouteDeps {
  token: string;
  storeUpload: StoreUpload;
  getUploadFile: GetUploadFile;
  logger: Logger;
}

/**
 * File bytes do not fit NATS messages (1 MB), so uploads and downloads travel from the
 * gateway to media over this internal HTTP API, streamed both ways; everything else is
 * NATS request/reply. Only the gateway, holding the shared token, may call it.
 */
export function registerInternalRoutes(app: FastifyInstance, deps: InternalRouteDeps): void {
  const expected = Buffer.from(`Bearer ${deps.token}`);
  // The body stays a stream: it is never buffered in memory, whatever its size.
  app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

  const authenticate = (request: FastifyRequest): CallerContext => {
    const presented = Buffer.from(request.headers.authorization ?? '');
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) throw MediaErrors.internalTokenRequired();
    const caller = CallerContext.safeParse(JSON.parse(String(request.headers[INTERNAL_HEADERS.caller] ?? '{}')));
    if (!caller.success || !caller.data.userId) throw MediaErrors.callerContextRequired();
    return caller.data;
  };

  const fail = (reply: FastifyReply, error: unknown, requestId?: string): FastifyReply => {
    if (error instanceof UploadRejected || error instanceof RpcError) return reply.status(error.status).send({ error: { code: error.code, message: error.message } });
    deps.logger.error({ err: error, requestId }, 'internal media request failed');
    return reply.status(500).send({ error: { code: 'internal_error', message: 'the media service failed to handle the file' } });
  };

  app.post('/internal/uploads', { bodyLimit: Number.MAX_SAFE_INTEGER }, async (request, reply) => {
    let caller: CallerContext | undefined;
    try {
      caller = authenticate(request);
      const name = request.headers[INTERNAL_HEADERS.declaredName];
      const type = request.headers[INTERNAL_HEADERS.declaredType];
      const upload = await deps.storeUpload.execute(request.body as Readable, {
        ...(typeof name === 'string' ? { filename: decodeURIComponent(name) } : {}),
        ...(typeof type === 'string' ? { contentType: type } : {}),
      }, caller);
      return reply.status(201).send(upload);
    } catch (error) {
      // Drain what the client is still sending, so the connection ends cleanly with our answer.
      (request.body as Readable | undefined)?.resume?.();
      return fail(reply, error, caller?.requestId);
    }
  });

  app.get<{ Params: { id: string } }>('/internal/uploads/:id/file', async (request, reply) => {
    try {
      const file = await deps.getUploadFile.execute(request.params.id, authenticate(request));
      return reply.header('content-type', file.mimeType).header('content-length', file.bytes).header('cache-control', 'private, no-store').send(file.body);
    } catch (error) {
      return fail(reply, error);
    }
  });
}
