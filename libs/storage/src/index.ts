export { ObjectStore, MAX_SIGNED_URL_SECONDS, MAX_DELETE_BATCH } from './object-store.js';
export type { ObjectStoreOptions, PutOptions } from './object-store.js';
export { StorageError } from './storage-error.js';
export { parseS3Url } from './storage-config.js';
export type { StorageConfig } from './storage-config.js';
export { startLocalS3 } from './local-s3.js';
export type { LocalS3, LocalS3Options } from './local-s3.js';
