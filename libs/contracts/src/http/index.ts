export * from './http-route.js';
export * from './account-fields.js';
export * from './accounts.js';
export * from './uploads.js';
export * from './generations.js';
export * from './billing.js';
export * from './chat.js';
export * from './privacy.js';
export * from './openapi.js';
import { ACCOUNT_ROUTES, HEALTH_ROUTES } from './accounts.js';
import { UPLOAD_ROUTES } from './uploads.js';
import { GENERATION_ROUTES } from './generations.js';
import { BILLING_ROUTES } from './billing.js';
import { CHAT_ROUTES } from './chat.js';
import { OPERATOR_ROUTES, PRIVACY_ROUTES } from './privacy.js';
import type { HttpRoute } from './http-route.js';

/** Every public route, in the order the OpenAPI document lists them. */
export const HTTP_ROUTES: readonly HttpRoute[] = [...HEALTH_ROUTES, ...ACCOUNT_ROUTES, ...UPLOAD_ROUTES, ...GENERATION_ROUTES, ...CHAT_ROUTES, ...BILLING_ROUTES, ...PRIVACY_ROUTES, ...OPERATOR_ROUTES];
