/** Privacy requests (§9): due dates, verification, restriction and objection, consents. */
export const REQUEST_PROVIDERS: Array<import('@nestjs/common').Provider> = [];
