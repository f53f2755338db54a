/** Legal holds, erasures and their signed receipts, retention's own purge. */
export const ERASURE_PROVIDERS: Array<import('@nestjs/common').Provider> = [];
