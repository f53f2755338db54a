export { DataKeyDestroyedError, DataKeyError } from './errors.js';
export {
  checkDataKeysConfig,
  dataKeysConfigShape,
  MASTER_KEY_BYTES,
  MasterKeyring,
  parseMasterKeys,
  resolveCurrentVersion,
  type DataKeysConfig,
} from './master-keyring.js';
export { CreateUserDataKeys1766000000000, DATA_KEY_BYTES, dataKeysProviders, UserDataKeys } from './user-data-keys.js';
export { SEALED_OVERHEAD_BYTES } from './sealed-value.js';
