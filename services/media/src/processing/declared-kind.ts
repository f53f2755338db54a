import { extname } from 'node:path';
import type { UploadKind } from './media-kinds.js';

export interface DeclaredUpload {
  filename?: string;
  contentType?: string;
}

const EXTENSION_KINDS: ReadonlyMap<string, UploadKind> = new Map([
  ...['jpg', 'jpeg', 'jpe', 'jfif', 'png', 'apng', 'webp', 'gif', 'avif', 'heic', 'heif', 'bmp', 'tif', 'tiff'].map((ext) => [ext, 'image'] as const),
  ...['mp3', 'wav', 'ogg', 'oga', 'opus', 'm4a', 'aac', 'flac', 'weba'].map((ext) => [ext, 'audio'] as const),
  ...['mp4', 'm4v', 'mov', 'qt', 'webm', 'mkv', 'avi'].map((ext) => [ext, 'video'] as const),
  ...['txt', 'text', 'md'].map((ext) => [ext, 'text'] as const),
]);

const TOP_LEVEL_KINDS: ReadonlyMap<string, UploadKind> = new Map([
  ['image', 'image'],
  ['audio', 'audio'],
  ['video', 'video'],
  ['text', 'text'],
]);

/**
 * The kinds a client's declaration names, from the `Content-Type` and from the file
 * extension. Only the four kinds count as a claim: `application/octet-stream`, an unknown
 * type, no extension or an unknown one claim nothing, because many clients send those for
 * anything and a refusal would only punish them.
 */
export function declaredKinds(declared: DeclaredUpload): UploadKind[] {
  const kinds: UploadKind[] = [];
  const topLevel = declared.contentType?.split(';')[0]?.trim().toLowerCase().split('/')[0];
  const fromType = topLevel ? TOP_LEVEL_KINDS.get(topLevel) : undefined;
  if (fromType) kinds.push(fromType);
  const extension = declared.filename ? extname(declared.filename).slice(1).toLowerCase() : '';
  const fromName = extension ? EXTENSION_KINDS.get(extension) : undefined;
  if (fromName) kinds.push(fromName);
  return kinds;
}
