import type { GenerationRpc } from '@homiwork/contracts';

/** Media's upload kinds that may be sent to a contractor. Text is not one of them. */
export type InputKind = 'image' | 'audio' | 'video';

/**
 * R4.1, §7.2: what a generation may use as inputs. Only the prompt is scrubbed of the
 * user's identifiers; an upload's bytes leave as media transformed them (metadata
 * stripped), which makes pictures, sound and film anonymous enough to send — but a text
 * upload is the user's own writing, as personal as a prompt and never scrubbed, so it is no
 * input of any kind. Images serve every kind (a poem about a photo); sound only a song or
 * a video; film only a video.
 */
export const INPUT_KINDS: Readonly<Record<GenerationRpc.GenerationKind, readonly InputKind[]>> = {
  image: ['image'],
  poem: ['image'],
  text: ['image'],
  song: ['image', 'audio'],
  video: ['image', 'audio', 'video'],
};

export function acceptsInput(kind: GenerationRpc.GenerationKind, input: string): boolean {
  return (INPUT_KINDS[kind] as readonly string[]).includes(input);
}

// Markup is text however it is labelled: `image/svg+xml` carries readable words.
const MEDIA_TYPE = /^(image|audio|video)\/[a-z0-9][a-z0-9.+-]{0,99}$/;
const TEXTUAL_SUFFIX = /(?:\+xml|\+json|svg)/;

/** The input kind a MIME type is, or undefined for text, markup and anything else that is not media. */
export function inputKindOf(mimeType: string): InputKind | undefined {
  const match = MEDIA_TYPE.exec(mimeType);
  if (!match || TEXTUAL_SUFFIX.test(mimeType)) return undefined;
  return match[1] as InputKind;
}
