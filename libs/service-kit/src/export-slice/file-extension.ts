// The extension a file gets in the export archive, from its stored type, so the user's
// system opens it with the right program. Anything not listed is `bin`.
const EXTENSIONS: Readonly<Record<string, string>> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/avif': 'avif',
  'audio/mpeg': 'mp3',
  'audio/wav': 'wav',
  'audio/ogg': 'ogg',
  'audio/mp4': 'm4a',
  'audio/aac': 'aac',
  'audio/flac': 'flac',
  'video/mp4': 'mp4',
  'video/quicktime': 'mov',
  'video/webm': 'webm',
  'text/plain': 'txt',
  'text/markdown': 'md',
  'application/json': 'json',
  'application/pdf': 'pdf',
};

export function fileExtension(mimeType: string): string {
  return EXTENSIONS[mimeType.split(';')[0]!.trim().toLowerCase()] ?? 'bin';
}
