import { open, stat } from 'node:fs/promises';
import { fileTypeFromFile } from 'file-type';
import { declaredKinds, type DeclaredUpload } from './declared-kind.js';
import { MEDIA_LIMITS, PLAIN_TEXT, REFUSED_FORMATS, acceptedFormat, type AcceptedFormat, type MediaFormat } from './media-kinds.js';
import { classifyUnknownBytes } from './plain-text.js';
import { UploadRejected } from './upload-rejected.js';

export type SniffResult = MediaFormat;

// Detectors read what headers tell them to; a hostile header must not make one allocate much.
const DETECTION_OPTIONS = { maxBufferSize: 1024 * 1024 };

/**
 * Decides what an upload is from its bytes (R3.1). The declared name and type never choose
 * the kind; they can only make the upload fail, when they clearly name another kind (a
 * JPEG sent as `song.mp3` is either a mistake or an attempt to slip past a check).
 */
export async function sniffUpload(filePath: string, declared: DeclaredUpload): Promise<SniffResult> {
  const { size } = await stat(filePath);
  if (size === 0) throw new UploadRejected(400, 'empty_file', 'The file is empty');
  const detected = await fileTypeFromFile(filePath, DETECTION_OPTIONS);
  const format = detected ? recognised(detected) : await unrecognised(filePath, size);
  assertDeclarationAgrees(format, declared);
  return { kind: format.kind, format: format.format, mime: format.mime };
}

function recognised(detected: { ext: string; mime: string }): AcceptedFormat {
  const accepted = acceptedFormat(detected.ext);
  if (accepted) return accepted;
  const refusal = REFUSED_FORMATS.get(detected.ext);
  throw new UploadRejected(415, 'unsupported_type', refusal ?? `Files of type ${detected.mime} (.${detected.ext}) are not accepted`);
}

async function unrecognised(filePath: string, size: number): Promise<AcceptedFormat> {
  switch (classifyUnknownBytes(...(await readSample(filePath, size)))) {
    case 'text':
      return PLAIN_TEXT;
    case 'markup':
      throw new UploadRejected(415, 'unsupported_type', 'HTML, SVG and XML are not accepted');
    case 'binary':
      throw new UploadRejected(415, 'unsupported_type', 'The file type is not recognised (text must be UTF-8)');
  }
}

/** Text is at most MEDIA_LIMITS.text bytes, so that much is enough to judge all of it. */
async function readSample(filePath: string, size: number): Promise<[Uint8Array, boolean]> {
  const length = Math.min(size, MEDIA_LIMITS.text);
  const handle = await open(filePath, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return [buffer.subarray(0, bytesRead), bytesRead === size];
  } finally {
    await handle.close();
  }
}

function assertDeclarationAgrees(format: AcceptedFormat, declared: DeclaredUpload): void {
  for (const kind of declaredKinds(declared)) {
    if (kind === format.kind || format.alsoDeclaredAs?.includes(kind)) continue;
    throw new UploadRejected(415, 'type_mismatch', `The file contains ${format.kind} data (${format.format}) but was declared as ${kind}`);
  }
}
