import { HttpException } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { RpcError } from '@homiwork/messaging';
import type { Logger } from '@homiwork/observability';
import { GatewayError } from './gateway-error.js';

interface ErrorAnswer {
  status: number;
  code: string;
  message: string;
  retryAfterSeconds?: number | undefined;
}

const FASTIFY_ERRORS: Record<string, Omit<ErrorAnswer, 'status'>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_json', message: 'the request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_json', message: 'the request body is empty; send a JSON object' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'payload_too_large', message: 'the request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type', message: 'send the body as application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'invalid_content_length', message: 'the Content-Length header does not match the body' },
};

const STATUS_CODES: Record<number, string> = { 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 405: 'method_not_allowed', 413: 'payload_too_large', 415: 'unsupported_media_type' };

/** Turns anything thrown while serving a request into API.md's error body. */
export function toErrorAnswer(error: unknown): ErrorAnswer {
  if (error instanceof GatewayError || error instanceof RpcError) {
    return { status: error.status, code: error.code, message: error.message, retryAfterSeconds: error.retryAfterSeconds };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    // Nest wraps Fastify's body-parser failures (bad JSON, too large) in an HttpException.
    if (status === 400 && /JSON/i.test(error.message)) return { status, code: 'invalid_json', message: 'the request body is not valid JSON' };
    return { status, code: STATUS_CODES[status] ?? `http_${status}`, message: status === 404 ? 'no such resource' : error.message };
  }
  const fastifyError = error as { code?: string; statusCode?: number };
  const known = fastifyError.code ? FASTIFY_ERRORS[fastifyError.code] : undefined;
  if (known) return { status: fastifyError.statusCode ?? 400, ...known };
  if (error instanceof SyntaxError) return { status: 400, code: 'invalid_json', message: 'the request body is not valid JSON' };
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return { status: fastifyError.statusCode, code: STATUS_CODES[fastifyError.statusCode] ?? 'bad_request', message: 'the request could not be understood' };
  }
  return { status: 500, code: 'internal_error', message: 'something went wrong on our side' };
}

export function sendError(reply: FastifyReply, error: unknown, logger: Logger, requestId: string | undefined): void {
  const answer = toErrorAnswer(error);
  if (answer.status >= 500) logger.error({ err: error, requestId, status: answer.status }, 'request failed');
  if (answer.retryAfterSeconds) void reply.header('retry-after', String(answer.retryAfterSeconds));
  void reply.status(answer.status).send({ error: { code: answer.code, message: answer.message } });
}
