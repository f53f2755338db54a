/** The policy clock (RETENTION_SCHEDULE → due items → expiry events). Filled in by its own files. */
export const CLOCK_PROVIDERS: Array<import('@nestjs/common').Provider> = [];
