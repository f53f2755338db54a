import { fileTypeFromBuffer } from 'file-type';
import type { GenerationRpc } from '@homiwork/contracts';
import { ContractorError, type ContractorResult } from './contractor.js';

/** A text result longer than this is refused: a poem or a letter, not a book. */
export const MAX_TEXT_RESULT_CHARS = 100_000;

/**
 * What a contractor may answer per kind: text for poems and texts, a file of one of these
 * types otherwise. Each type lists the extensions `file-type` reports for its bytes, so a
 * result is what it claims to be (an "image/png" that is an HTML page is refused).
 */
const FILE_TYPES: Readonly<Record<Exclude<GenerationRpc.GenerationKind, 'poem' | 'text'>, Readonly<Record<string, readonly string[]>>>> = {
  image: { 'image/png': ['png', 'apng'], 'image/jpeg': ['jpg'], 'image/webp': ['webp'] },
  song: { 'audio/ogg': ['ogg', 'opus', 'oga'], 'audio/opus': ['opus', 'ogg'], 'audio/mpeg': ['mp3'], 'audio/wav': ['wav'] },
  video: { 'video/mp4': ['mp4', 'm4v'], 'video/webm': ['webm'] },
};

/** Every MIME type any kind may answer with (for the response schema; the kind narrows it). */
export const RESULT_MIME_TYPES: readonly string[] = [...new Set(Object.values(FILE_TYPES).flatMap((types) => Object.keys(types)))];

// Detectors read what headers tell them to; a hostile header must not make one allocate much.
const DETECTION_OPTIONS = { maxBufferSize: 1024 * 1024 };

/** Returns the result if the kind allows it and its bytes are of the type it names; otherwise `invalid_result`. */
export async function checkResult(kind: GenerationRpc.GenerationKind, result: ContractorResult): Promise<ContractorResult> {
  if (kind === 'poem' || kind === 'text') {
    if (result.type !== 'text') throw invalid(`a ${kind} must be text`);
    if (result.text.trim().length === 0) throw invalid('the text is empty');
    if (result.text.length > MAX_TEXT_RESULT_CHARS) throw invalid(`the text is longer than ${MAX_TEXT_RESULT_CHARS} characters`);
    return result;
  }
  if (result.type !== 'file') throw invalid(`a ${kind} must be a file`);
  const extensions = FILE_TYPES[kind][result.mimeType];
  if (!extensions) throw invalid(`${result.mimeType} is not an allowed type for ${kind}`);
  if (result.data.length === 0) throw invalid('the file is empty');
  const detected = await fileTypeFromBuffer(result.data, DETECTION_OPTIONS).catch(() => undefined);
  if (!detected || !extensions.includes(detected.ext)) throw invalid(`the bytes are not ${result.mimeType}`);
  return result;
}

function invalid(reason: string): ContractorError {
  return new ContractorError('invalid_result', `the contractor's result was refused: ${reason}`);
}
