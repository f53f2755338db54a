/** Access/export archives: each service's slice, one encrypted tar, an expiring link. */
export const EXPORT_PROVIDERS: Array<import('@nestjs/common').Provider> = [];
