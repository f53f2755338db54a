import { z } from 'zod';
import { defineRoute } from '../rpc-contract.js';
import { DATA_OWNING_SERVICES } from '../services.js';

// Retention's routes: privacy requests and erasure receipts for users (through the
// gateway), legal holds and overdue lists for operators, the hold list for the services'
// own safety-net sweeps, and the export archive's key for the gateway's download.

export const PrivacyRequestType = z.enum(['access', 'export', 'erasure', 'restriction', 'objection', 'consent_withdrawal', 'opt_out_of_sale']);
export type PrivacyRequestType = z.infer<typeof PrivacyRequestType>;
export const PrivacyRegime = z.enum(['gdpr', 'ccpa']);
/**
 * `awaiting_verification`: an erasure asked for without the password (API.md's body has
 * none); it starts once verified. `in_progress`: being carried out (an export being built,
 * an erasure purging). `in_force`: a restriction or objection that applies until lifted.
 * `completed`, `lifted`, `rejected`, `withdrawn`: final.
 */
export const PrivacyRequestStatus = z.enum(['awaiting_verification', 'in_progress', 'in_force', 'completed', 'lifted', 'rejected', 'withdrawn']);

export const PrivacyRequestView = z.strictObject({
  id: z.uuid(),
  type: PrivacyRequestType,
  regime: PrivacyRegime,
  status: PrivacyRequestStatus,
  createdAt: z.iso.datetime(),
  dueAt: z.iso.datetime(),
  completedAt: z.iso.datetime().optional(),
  /** What came of it, as a code: `exported`, `erased`, `restricted`, `recorded`, … */
  outcome: z.string().optional(),
  /** Erasure requests: the erasure whose receipt proves it. */
  erasureId: z.uuid().optional(),
  /** Access/export requests, while the archive exists: an expiring link to it. */
  downloadUrl: z.string().optional(),
  downloadExpiresAt: z.iso.datetime().optional(),
  history: z.array(z.strictObject({ status: PrivacyRequestStatus, at: z.iso.datetime() })),
});
export type PrivacyRequestView = z.infer<typeof PrivacyRequestView>;

export const CreatePrivacyRequestRoute = defineRoute({
  service: 'retention',
  method: 'privacy.requests.create',
  request: z.strictObject({
    type: PrivacyRequestType,
    regime: PrivacyRegime.default('gdpr'),
    /** Erasure only: the account's password, as DELETE /v1/me asks for it; without it the request waits for verification. */
    password: z.string().min(1).max(1024).optional(),
  }),
  response: PrivacyRequestView,
});
/** The newest PRIVACY_REQUESTS_PAGE_SIZE of the caller's requests; `before` (the last item's id) pages on to older ones. */
export const PRIVACY_REQUESTS_PAGE_SIZE = 100;
export const ListPrivacyRequestsRoute = defineRoute({
  service: 'retention',
  method: 'privacy.requests.list',
  request: z.strictObject({ before: z.uuid().optional() }),
  response: z.strictObject({ items: z.array(PrivacyRequestView) }),
});
export const GetPrivacyRequestRoute = defineRoute({ service: 'retention', method: 'privacy.requests.get', request: z.strictObject({ id: z.uuid() }), response: PrivacyRequestView });
/** Completes an erasure request that waits for verification (the account's password). */
export const VerifyPrivacyRequestRoute = defineRoute({
  service: 'retention',
  method: 'privacy.requests.verify',
  request: z.strictObject({ id: z.uuid(), password: z.string().min(1).max(1024) }),
  response: PrivacyRequestView,
});
/** Withdraws a request still waiting, or lifts a restriction or objection in force (recorded). */
export const WithdrawPrivacyRequestRoute = defineRoute({ service: 'retention', method: 'privacy.requests.withdraw', request: z.strictObject({ id: z.uuid() }), response: PrivacyRequestView });

export const ErasureStatus = z.enum(['held', 'in_progress', 'completed']);
export const ErasureReceipt = z.strictObject({
  service: z.enum(DATA_OWNING_SERVICES),
  purgedAt: z.iso.datetime(),
  counts: z.record(z.string(), z.number().int().nonnegative()),
});
/** The erasure record; its compact JWS (once completed) signs exactly this object without `jws`. */
export const ErasureView = z.strictObject({
  id: z.uuid(),
  status: ErasureStatus,
  reason: z.string(),
  requestedAt: z.iso.datetime(),
  deadlineAt: z.iso.datetime(),
  overdue: z.boolean(),
  completedAt: z.iso.datetime().optional(),
  expectedServices: z.array(z.enum(DATA_OWNING_SERVICES)),
  receipts: z.array(ErasureReceipt),
  jws: z.string().optional(),
});
export type ErasureView = z.infer<typeof ErasureView>;

/** Public: the opaque erasureId is the only key (API.md); an unknown one is 404. */
export const GetErasureRoute = defineRoute({ service: 'retention', method: 'erasures.get', request: z.strictObject({ erasureId: z.uuid() }), response: ErasureView });
export const ReceiptKey = z.strictObject({
  kid: z.string(),
  alg: z.literal('EdDSA'),
  jwk: z.strictObject({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string() }),
  /** A retired key still verifies the receipts it signed. */
  status: z.enum(['current', 'retired']),
});
export const ReceiptKeysRoute = defineRoute({ service: 'retention', method: 'erasures.keys', request: z.strictObject({}), response: z.strictObject({ keys: z.array(ReceiptKey) }) });

/** The gateway's download of an export archive: the link's token in, the encrypted object's address and its one-off key out. */
export const OpenExportRoute = defineRoute({
  service: 'retention',
  method: 'exports.open',
  request: z.strictObject({ exportId: z.uuid(), token: z.string().min(1).max(512) }),
  response: z.strictObject({
    url: z.string(),
    bytes: z.number().int().nonnegative(),
    fileName: z.string(),
    /** AES-256-GCM of the whole archive: the data key, nonce and tag, base64. */
    key: z.string(),
    iv: z.string(),
    tag: z.string(),
  }),
});

// Operators (the gateway lets only the `operator` role through).
export const LegalHoldView = z.strictObject({
  id: z.uuid(),
  userId: z.uuid(),
  reason: z.string(),
  source: z.enum(['operator', 'prohibited_content']),
  placedAt: z.iso.datetime(),
  releasedAt: z.iso.datetime().optional(),
});
export const PlaceLegalHoldRoute = defineRoute({
  service: 'retention',
  method: 'admin.holds.place',
  request: z.strictObject({ userId: z.uuid(), reason: z.string().trim().min(1).max(500) }),
  response: z.strictObject({ id: z.uuid() }),
});
export const ReleaseLegalHoldRoute = defineRoute({ service: 'retention', method: 'admin.holds.release', request: z.strictObject({ id: z.uuid() }), response: z.strictObject({}) });
/**
 * The operators' lists answer at most this many items, newest first (a NATS reply over 1 MB
 * fails). The next page: `before` = the last item's time (`placedAt` of a hold,
 * `requestedAt` of an erasure) and `beforeId` = its id (ties of the same time are kept apart by id).
 */
export const OPERATOR_LIST_PAGE_SIZE = 200;
const OperatorListCursor = {
  /** Only items older than this (with `beforeId`: older, or as old with a smaller id). */
  before: z.iso.datetime().optional(),
  /** The id of the previous page's last item; only together with `before`. */
  beforeId: z.uuid().optional(),
};
export const ListLegalHoldsRoute = defineRoute({
  service: 'retention',
  method: 'admin.holds.list',
  request: z.strictObject({ userId: z.uuid().optional(), ...OperatorListCursor }),
  response: z.strictObject({ items: z.array(LegalHoldView) }),
});
export const AdminPrivacyRequestView = PrivacyRequestView.omit({ downloadUrl: true, downloadExpiresAt: true }).extend({ userId: z.uuid().nullable(), overdue: z.boolean() });
export const AdminListPrivacyRequestsRoute = defineRoute({
  service: 'retention',
  method: 'admin.privacy.requests.list',
  request: z.strictObject({ overdue: z.boolean().default(false) }),
  response: z.strictObject({ items: z.array(AdminPrivacyRequestView) }),
});
export const AdminListErasuresRoute = defineRoute({
  service: 'retention',
  method: 'admin.erasures.list',
  request: z.strictObject({ overdue: z.boolean().default(false), ...OperatorListCursor }),
  response: z.strictObject({ items: z.array(ErasureView.omit({ jws: true }).extend({ missingServices: z.array(z.enum(DATA_OWNING_SERVICES)) })) }),
});

/** The most user ids one ActiveHoldsRoute request may ask about (keeps the answer far below NATS's 1 MB). */
export const ACTIVE_HOLDS_MAX_USER_IDS = 1000;

/**
 * Which of the given users are under a legal hold now (§12.2). A service asks before it
 * deletes anything of these users — its own safety-net sweep (about the candidates of one
 * batch) and its expiry-event handlers — and leaves the held ones out; with no answer it
 * deletes nothing (fails closed). Bounded both ways: at most ACTIVE_HOLDS_MAX_USER_IDS ids
 * asked, and only ids among those asked answered, so the reply never grows with the number
 * of holds.
 */
export const ActiveHoldsRoute = defineRoute({
  service: 'retention',
  method: 'holds.active',
  request: z.strictObject({ userIds: z.array(z.uuid()).min(1).max(ACTIVE_HOLDS_MAX_USER_IDS) }),
  response: z.strictObject({ heldUserIds: z.array(z.uuid()) }),
  callers: ['identity', 'media', 'generation', 'chat', 'billing'],
});
