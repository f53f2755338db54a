export * from './make-fixtures.js';
export { webpChunks, type RiffChunk } from './webp-chunks.js';
