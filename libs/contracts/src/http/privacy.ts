import { z } from 'zod';
import {
  AdminListErasuresRoute,
  AdminListPrivacyRequestsRoute,
  CreatePrivacyRequestRoute,
  ErasureView,
  ListLegalHoldsRoute,
  PlaceLegalHoldRoute,
  PrivacyRequestView,
  ReceiptKeysRoute,
} from '../rpc/retention.js';
import { AdminBlockUserRoute, AdminEraseUserRoute } from '../rpc/identity.js';
import { COMMON_ERRORS as E, defineHttpRoute } from './http-route.js';

// API.md's "Privacy rights" and "Operators" sections, and their extensions (verify,
// withdraw, the export download, the hold list).

export const CreatePrivacyRequest = defineHttpRoute({
  method: 'POST',
  path: '/v1/privacy/requests',
  summary: 'Exercise a privacy right (§9): access, export, erasure, restriction, objection, consent withdrawal, opt-out of sale; due in 30 days (45 under CCPA). A second request of a type while one is open answers the open one',
  tag: 'privacy',
  auth: 'user',
  rateLimit: 'write',
  body: CreatePrivacyRequestRoute.request,
  successStatus: 202,
  response: PrivacyRequestView,
  errors: [E.validation, E.invalidJson, E.unauthorized, [401, 'invalid_credentials'], E.rateLimited, E.unavailable],
});

export const ListPrivacyRequests = defineHttpRoute({
  method: 'GET',
  path: '/v1/privacy/requests',
  summary: 'The caller’s privacy requests, newest first: at most 100; `?before=<id>` (the last item’s id) gives the next older ones',
  tag: 'privacy',
  auth: 'user',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: z.strictObject({ items: z.array(PrivacyRequestView) }),
  errors: [E.validation, E.unauthorized, E.rateLimited],
});

export const GetPrivacyRequest = defineHttpRoute({
  method: 'GET',
  path: '/v1/privacy/requests/:id',
  summary: 'A privacy request: status and its history, due date, outcome, and for exports an expiring download link',
  tag: 'privacy',
  auth: 'user',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: PrivacyRequestView,
  errors: [E.unauthorized, E.notFound, E.rateLimited],
});

export const VerifyPrivacyRequest = defineHttpRoute({
  method: 'POST',
  path: '/v1/privacy/requests/:id/verify',
  summary: 'Confirm an erasure request with the account’s password (as DELETE /v1/me does); the erasure starts',
  tag: 'privacy',
  auth: 'user',
  rateLimit: 'auth',
  body: z.strictObject({ password: z.string().min(1).max(1024) }),
  successStatus: 200,
  response: PrivacyRequestView,
  errors: [E.validation, E.invalidJson, E.unauthorized, [401, 'invalid_credentials'], E.notFound, [409, 'not_awaiting_verification'], E.rateLimited],
});

export const WithdrawPrivacyRequest = defineHttpRoute({
  method: 'DELETE',
  path: '/v1/privacy/requests/:id',
  summary: 'Withdraw a request still waiting for verification, or lift a restriction or objection in force (recorded)',
  tag: 'privacy',
  auth: 'user',
  rateLimit: 'write',
  body: undefined,
  successStatus: 200,
  response: PrivacyRequestView,
  errors: [E.unauthorized, E.notFound, [409, 'not_withdrawable'], E.rateLimited],
});

export const DownloadExport = defineHttpRoute({
  method: 'GET',
  path: '/v1/privacy/exports/:id',
  summary: 'The export archive (tar) behind an expiring link: the link’s `token` query parameter is the key, no bearer token needed',
  tag: 'privacy',
  auth: 'public',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: z.instanceof(Uint8Array),
  binaryResponse: true,
  errors: [E.validation, E.notFound, [410, 'link_expired'], E.rateLimited, E.unavailable],
});

export const GetErasure = defineHttpRoute({
  method: 'GET',
  path: '/v1/privacy/erasures/:erasureId',
  summary: 'An erasure and its receipts, per service; once completed, `jws` is the receipt signed with Ed25519 (verify offline: docs/erasure-receipts.md)',
  tag: 'privacy',
  auth: 'public',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: ErasureView,
  errors: [E.validation, E.notFound, E.rateLimited],
});

export const GetReceiptKeys = defineHttpRoute({
  method: 'GET',
  path: '/v1/privacy/receipt-keys',
  summary: 'The public keys that verify completed erasure receipts (current and retired)',
  tag: 'privacy',
  auth: 'public',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: ReceiptKeysRoute.response,
  errors: [E.rateLimited],
});

export const PRIVACY_ROUTES = [CreatePrivacyRequest, ListPrivacyRequests, GetPrivacyRequest, VerifyPrivacyRequest, WithdrawPrivacyRequest, DownloadExport, GetErasure, GetReceiptKeys] as const;

export const PlaceLegalHold = defineHttpRoute({
  method: 'POST',
  path: '/v1/admin/legal-holds',
  summary: 'Place a legal hold (§12.2): nothing of the user is purged — not by expiry, not by erasure — until an operator releases it',
  tag: 'operators',
  auth: 'operator',
  rateLimit: 'write',
  body: PlaceLegalHoldRoute.request,
  successStatus: 201,
  response: PlaceLegalHoldRoute.response,
  errors: [E.validation, E.invalidJson, E.unauthorized, E.forbidden, E.rateLimited],
});

export const ReleaseLegalHold = defineHttpRoute({
  method: 'DELETE',
  path: '/v1/admin/legal-holds/:id',
  summary: 'Release a legal hold; every deletion it held back runs',
  tag: 'operators',
  auth: 'operator',
  rateLimit: 'write',
  body: undefined,
  successStatus: 204,
  response: undefined,
  errors: [E.unauthorized, E.forbidden, E.notFound, E.rateLimited],
});

export const ListLegalHolds = defineHttpRoute({
  method: 'GET',
  path: '/v1/admin/legal-holds',
  summary: 'Legal holds, current and released (`?userId=` narrows to one user)',
  tag: 'operators',
  auth: 'operator',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: ListLegalHoldsRoute.response,
  errors: [E.validation, E.unauthorized, E.forbidden, E.rateLimited],
});

export const BlockUser = defineHttpRoute({
  method: 'POST',
  path: '/v1/admin/users/:id/block',
  summary: 'Block an account (§12.2): it can no longer log in and its tokens stop working; nothing is deleted',
  tag: 'operators',
  auth: 'operator',
  rateLimit: 'write',
  body: AdminBlockUserRoute.request.pick({ reason: true }),
  successStatus: 204,
  response: undefined,
  errors: [E.validation, E.invalidJson, E.unauthorized, E.forbidden, E.notFound, E.rateLimited],
});

export const EraseUser = defineHttpRoute({
  method: 'POST',
  path: '/v1/admin/users/:id/erase',
  summary: 'Erase an account at once (minors, §13.2): disabled now, purged everywhere unless a legal hold stands',
  tag: 'operators',
  auth: 'operator',
  rateLimit: 'write',
  body: AdminEraseUserRoute.request.pick({ reason: true }),
  successStatus: 202,
  response: AdminEraseUserRoute.response,
  errors: [E.validation, E.invalidJson, E.unauthorized, E.forbidden, E.notFound, E.rateLimited],
});

export const AdminListPrivacyRequests = defineHttpRoute({
  method: 'GET',
  path: '/v1/admin/privacy/requests',
  summary: 'Every privacy request (`?overdue=true`: those past their legal due date and not completed)',
  tag: 'operators',
  auth: 'operator',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: AdminListPrivacyRequestsRoute.response,
  errors: [E.validation, E.unauthorized, E.forbidden, E.rateLimited],
});

export const AdminListErasures = defineHttpRoute({
  method: 'GET',
  path: '/v1/admin/erasures',
  summary: 'Erasures with the services still to confirm (`?overdue=true`: past their deadline and not complete)',
  tag: 'operators',
  auth: 'operator',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: AdminListErasuresRoute.response,
  errors: [E.validation, E.unauthorized, E.forbidden, E.rateLimited],
});

export const OPERATOR_ROUTES = [PlaceLegalHold, ReleaseLegalHold, ListLegalHolds, BlockUser, EraseUser, AdminListPrivacyRequests, AdminListErasures] as const;
