export { UploadRejected } from './upload-rejected.js';
export { ACCEPTED_FORMATS, MEDIA_LIMITS, PLAIN_TEXT, REFUSED_FORMATS, acceptedFormat, type AcceptedFormat, type MediaFormat, type UploadKind } from './media-kinds.js';
export { declaredKinds, type DeclaredUpload } from './declared-kind.js';
export { classifyUnknownBytes, type UnknownBytesVerdict } from './plain-text.js';
export { sniffUpload, type SniffResult } from './sniff.js';
export { ImageTransformer, type ImageTransformerOptions, type TransformedImage } from './image-transformer.js';
export { AvTransformer, scrubDetail, type AvTransformerOptions, type TransformedAudio, type TransformedVideo } from './av-transformer.js';
export { parseProbeReport, type MediaProbe } from './media-probe.js';
export { normalizeText } from './text-normalizer.js';
