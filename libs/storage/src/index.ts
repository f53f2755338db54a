export { ObjectStore, MAX_SIGNED_URL_SECONDS } from './object-store.js';
export type { ObjectStoreOptions, PutOptions } from './object-store.js';
export { StorageError } from './storage-error.js';
export { parseS3Url, type S3Credentials } from './storage-config.js';
export type { StorageConfig } from './storage-config.js';
// The local S3 server (s3rver, a development and test dependency) is `@homiwork/storage/local`: services never load it.
