import { z } from 'zod';
import { defineRoute } from '../rpc-contract.js';
import { Email, Login, OpaqueToken, Password, Username } from '../http/account-fields.js';

// Request/reply routes the gateway calls on identity. The caller (user id, role,
// address hash) travels in the CallerContext header, never in these bodies.

const PublicUser = z.strictObject({ id: z.uuid(), email: z.string(), username: z.string(), createdAt: z.iso.datetime() });
export const TokenPair = z.strictObject({ accessToken: z.string(), refreshToken: z.string(), expiresIn: z.number().int().positive() });
export const Profile = PublicUser.extend({
  prime: z.strictObject({ active: z.boolean(), expiresAt: z.iso.datetime().nullable() }),
});

export const RegisterRoute = defineRoute({
  service: 'identity',
  method: 'auth.register',
  request: z.strictObject({
    email: Email,
    username: Username,
    password: Password,
    ageConfirmed: z.literal(true, { error: 'must be true: the service is for people aged 18 or over' }),
  }),
  response: z.strictObject({ user: PublicUser }),
});

export const LoginRoute = defineRoute({ service: 'identity', method: 'auth.login', request: z.strictObject({ login: Login, password: Password }), response: TokenPair });
export const RefreshRoute = defineRoute({ service: 'identity', method: 'auth.refresh', request: z.strictObject({ refreshToken: OpaqueToken }), response: TokenPair });
export const LogoutRoute = defineRoute({ service: 'identity', method: 'auth.logout', request: z.strictObject({ refreshToken: OpaqueToken }), response: z.strictObject({}) });
export const PasswordResetRequestRoute = defineRoute({ service: 'identity', method: 'auth.password-reset.request', request: z.strictObject({ email: Email }), response: z.strictObject({}) });
export const PasswordResetConfirmRoute = defineRoute({
  service: 'identity',
  method: 'auth.password-reset.confirm',
  request: z.strictObject({ token: OpaqueToken, password: Password }),
  response: z.strictObject({}),
});
export const GetProfileRoute = defineRoute({ service: 'identity', method: 'me.get', request: z.strictObject({}), response: Profile });
export const UpdateProfileRoute = defineRoute({
  service: 'identity',
  method: 'me.update',
  // Changing the email moves the account's recovery channel, so it needs the password.
  request: z
    .strictObject({ email: Email.optional(), username: Username.optional(), currentPassword: Password.optional() })
    .refine((body) => body.email !== undefined || body.username !== undefined, { message: 'give email or username' })
    .refine((body) => body.email === undefined || body.currentPassword !== undefined, { message: 'is required to change the email', path: ['currentPassword'] }),
  response: Profile,
});
export const DeleteAccountRoute = defineRoute({ service: 'identity', method: 'me.delete', request: z.strictObject({ password: Password }), response: z.strictObject({ erasureId: z.uuid() }) });
/** The gateway reports a user's activity at most once a day per user (R1.6). */
export const RecordActivityRoute = defineRoute({ service: 'identity', method: 'activity.record', request: z.strictObject({ day: z.iso.date() }), response: z.strictObject({}) });

/**
 * The identifiers the anonymizing egress must scrub from a prompt and the address the payment
 * processor needs (§7.1, §7.2). Service-to-service only: the gateway cannot call it. The
 * answer is used for one request and never stored by the caller.
 */
export const GetIdentifiersRoute = defineRoute({
  service: 'identity',
  method: 'identifiers.get',
  request: z.strictObject({ userId: z.uuid() }),
  response: z.strictObject({ email: z.string(), username: z.string() }),
  callers: ['generation', 'billing', 'chat'],
});

// Erasure (R1.5, R7.2, §10, §13.2). Every path disables the account at once and announces
// ErasureRequested; identity deletes it on retention's ErasureApproved (legal holds, §12.2).

/** Operators: erase an account at once (minors, §13.2) — the same path as the user's own deletion. */
export const AdminEraseUserRoute = defineRoute({
  service: 'identity',
  method: 'admin.users.erase',
  request: z.strictObject({ userId: z.uuid(), reason: z.string().trim().min(1).max(500) }),
  response: z.strictObject({ erasureId: z.uuid() }),
});
/** Operators: block an account (§12.2): no login, every token revoked; nothing is deleted. */
export const AdminBlockUserRoute = defineRoute({
  service: 'identity',
  method: 'admin.users.block',
  request: z.strictObject({ userId: z.uuid(), reason: z.string().trim().min(1).max(500) }),
  response: z.strictObject({}),
});
/**
 * A privacy request of type `erasure`, verified with the account's password like DELETE
 * /v1/me (a wrong one is 401 `invalid_credentials`). Retention's only; answers the erasure
 * already open when there is one.
 */
export const RequestErasureRoute = defineRoute({
  service: 'identity',
  method: 'erasure.request',
  request: z.strictObject({ userId: z.uuid(), password: Password }),
  response: z.strictObject({ erasureId: z.uuid() }),
  callers: ['retention'],
});
