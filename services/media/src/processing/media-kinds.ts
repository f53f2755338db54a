export type UploadKind = 'image' | 'audio' | 'video' | 'text';

const MB = 1024 * 1024;

/** Default byte limits per kind; the service may configure its own. */
export const MEDIA_LIMITS: Readonly<Record<UploadKind, number>> = Object.freeze({
  image: 25 * MB,
  audio: 50 * MB,
  video: 200 * MB,
  text: 1 * MB,
});

export interface MediaFormat {
  readonly kind: UploadKind;
  /** Short stable name of the container/format, e.g. `jpeg`, `m4a`, `webm`, `text`. */
  readonly format: string;
  /** Canonical MIME type of the accepted original. */
  readonly mime: string;
}

export interface AcceptedFormat extends MediaFormat {
  /**
   * Kinds a client may honestly declare for this container although its usual kind
   * differs: an MP4 or WebM may hold only sound (voice memos, MediaRecorder), an M4A or
   * Ogg is sometimes sent as `video/…`. Declaring one of these is not a mismatch.
   */
  readonly alsoDeclaredAs?: readonly UploadKind[];
}

const image = (format: string, mime: string): AcceptedFormat => ({ kind: 'image', format, mime });
const audio = (format: string, mime: string, alsoDeclaredAs?: UploadKind[]): AcceptedFormat => ({ kind: 'audio', format, mime, ...(alsoDeclaredAs ? { alsoDeclaredAs } : {}) });
const video = (format: string, mime: string): AcceptedFormat => ({ kind: 'video', format, mime, alsoDeclaredAs: ['audio'] });

/** Accepted formats, keyed by the extension `file-type` reports for the bytes. */
export const ACCEPTED_FORMATS: ReadonlyMap<string, AcceptedFormat> = new Map([
  ['jpg', image('jpeg', 'image/jpeg')],
  ['png', image('png', 'image/png')],
  // An animated PNG is a PNG whose first frame is its default image: only that frame is used.
  ['apng', image('png', 'image/png')],
  ['webp', image('webp', 'image/webp')],
  ['gif', image('gif', 'image/gif')],
  ['avif', image('avif', 'image/avif')],
  ['mp3', audio('mp3', 'audio/mpeg')],
  ['wav', audio('wav', 'audio/wav')],
  ['ogg', audio('ogg', 'audio/ogg', ['video'])],
  ['opus', audio('opus', 'audio/ogg', ['video'])],
  // FLAC in an Ogg container.
  ['oga', audio('ogg', 'audio/ogg', ['video'])],
  ['m4a', audio('m4a', 'audio/mp4', ['video'])],
  ['aac', audio('aac', 'audio/aac')],
  ['flac', audio('flac', 'audio/flac')],
  ['mp4', video('mp4', 'video/mp4')],
  ['m4v', video('mp4', 'video/mp4')],
  ['mov', video('mov', 'video/quicktime')],
  ['webm', video('webm', 'video/webm')],
]);

/** What a file that is neither a recognised binary format nor markup, but valid UTF-8, is. */
export const PLAIN_TEXT: MediaFormat = Object.freeze({ kind: 'text', format: 'text', mime: 'text/plain' });

/**
 * Recognised but refused with a specific message. HEIC/HEIF (iPhone photos) need an HEVC
 * decoder the bundled libvips does not have; only AV1-coded HEIF (AVIF) is decoded.
 */
export const REFUSED_FORMATS: ReadonlyMap<string, string> = new Map([
  ['heic', 'HEIC/HEIF images cannot be processed; please send JPEG, PNG, WebP, GIF or AVIF (on iPhone: Settings › Camera › Formats › Most Compatible)'],
  ['xml', 'HTML, SVG and XML are not accepted'],
]);

export function acceptedFormat(fileTypeExt: string): AcceptedFormat | undefined {
  return ACCEPTED_FORMATS.get(fileTypeExt);
}
