import { z } from 'zod';
import { Upload } from '../rpc/media.js';
import { COMMON_ERRORS as E, defineHttpRoute } from './http-route.js';

const UPLOAD_ERRORS = [
  [400, 'empty_file'],
  [400, 'missing_file'],
  [413, 'file_too_large'],
  [413, 'image_too_large'],
  [413, 'too_long'],
  [413, 'video_too_large'],
  [413, 'text_too_long'],
  [415, 'unsupported_type'],
  [415, 'type_mismatch'],
  [415, 'invalid_utf8'],
  [422, 'unreadable_image'],
  [422, 'unreadable_media'],
  [422, 'content_rejected'],
  [422, 'processing_timeout'],
  [422, 'no_audio_stream'],
] as const;

export const CreateUpload = defineHttpRoute({
  method: 'POST',
  path: '/v1/uploads',
  summary: 'Upload a file (multipart field `file`); it is transformed and stripped of metadata before anything keeps it, and lives 7 days',
  tag: 'uploads',
  auth: 'user',
  rateLimit: 'write',
  body: undefined,
  multipartField: 'file',
  successStatus: 201,
  response: Upload,
  errors: [E.unauthorized, ...UPLOAD_ERRORS, E.rateLimited],
});

export const ListUploads = defineHttpRoute({
  method: 'GET',
  path: '/v1/uploads',
  summary: 'The caller’s uploads',
  tag: 'uploads',
  auth: 'user',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: z.strictObject({ items: z.array(Upload) }),
  errors: [E.unauthorized, E.rateLimited],
});

export const GetUpload = defineHttpRoute({
  method: 'GET',
  path: '/v1/uploads/:id',
  summary: 'One upload’s metadata',
  tag: 'uploads',
  auth: 'user',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: Upload,
  errors: [E.unauthorized, E.notFound, E.rateLimited],
});

export const GetUploadFile = defineHttpRoute({
  method: 'GET',
  path: '/v1/uploads/:id/file',
  summary: 'The transformed bytes (the original was never kept)',
  tag: 'uploads',
  auth: 'user',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: z.instanceof(Uint8Array),
  binaryResponse: true,
  errors: [E.unauthorized, E.notFound, E.rateLimited],
});

export const DeleteUpload = defineHttpRoute({
  method: 'DELETE',
  path: '/v1/uploads/:id',
  summary: 'Delete an upload and its file now',
  tag: 'uploads',
  auth: 'user',
  rateLimit: 'write',
  body: undefined,
  successStatus: 204,
  response: undefined,
  errors: [E.unauthorized, E.notFound, E.rateLimited],
});

export const UPLOAD_ROUTES = [CreateUpload, ListUploads, GetUpload, GetUploadFile, DeleteUpload] as const;
