/**
 * Sealed data that cannot be opened: altered, sealed for another user, or under a master
 * key version the keyring no longer has. The message says which, never what the data is.
 */
export class DataKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataKeyError';
  }
}

/**
 * The user has no data key: it was destroyed on erasure (or never made), so whatever was
 * sealed for them is unreadable for good. Callers treat it as "the data is gone".
 */
export class DataKeyDestroyedError extends DataKeyError {
  constructor() {
    super("the user's data key does not exist (destroyed on erasure)");
    this.name = 'DataKeyDestroyedError';
  }
}
