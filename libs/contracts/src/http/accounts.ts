import { z } from 'zod';
import {
  DeleteAccountRoute,
  LoginRoute,
  LogoutRoute,
  PasswordResetConfirmRoute,
  PasswordResetRequestRoute,
  Profile,
  RefreshRoute,
  RegisterRoute,
  TokenPair,
  UpdateProfileRoute,
} from '../rpc/identity.js';
import { COMMON_ERRORS as E, defineHttpRoute } from './http-route.js';

/** GET /v1/me adds the energy balance, which billing owns; null while billing cannot be asked. */
export const MeResponse = Profile.extend({ energy: z.number().int().nonnegative().nullable() });

export const Register = defineHttpRoute({
  method: 'POST',
  path: '/v1/auth/register',
  summary: 'Create an account (the user affirms being 18 or older)',
  tag: 'accounts',
  auth: 'public',
  rateLimit: 'auth',
  body: RegisterRoute.request,
  successStatus: 201,
  response: RegisterRoute.response,
  errors: [E.validation, [400, 'weak_password'], [409, 'email_taken'], [409, 'username_taken'], E.rateLimited],
});

export const LogIn = defineHttpRoute({
  method: 'POST',
  path: '/v1/auth/login',
  summary: 'Log in by email or username',
  tag: 'accounts',
  auth: 'public',
  rateLimit: 'auth',
  body: LoginRoute.request,
  successStatus: 200,
  response: TokenPair,
  errors: [E.validation, [401, 'invalid_credentials'], [403, 'account_blocked'], E.rateLimited],
});

export const Refresh = defineHttpRoute({
  method: 'POST',
  path: '/v1/auth/refresh',
  summary: 'Rotate a refresh token; a reused token revokes its whole family',
  tag: 'accounts',
  auth: 'public',
  rateLimit: 'auth',
  body: RefreshRoute.request,
  successStatus: 200,
  response: TokenPair,
  errors: [E.validation, [401, 'invalid_refresh_token'], E.rateLimited],
});

export const LogOut = defineHttpRoute({
  method: 'POST',
  path: '/v1/auth/logout',
  summary: 'End the session the refresh token belongs to',
  tag: 'accounts',
  auth: 'public',
  rateLimit: 'auth',
  body: LogoutRoute.request,
  successStatus: 204,
  response: undefined,
  errors: [E.validation, E.rateLimited],
});

export const RequestPasswordReset = defineHttpRoute({
  method: 'POST',
  path: '/v1/auth/password-reset',
  summary: 'Email a one-time reset link; the answer is the same whether or not the email is registered',
  tag: 'accounts',
  auth: 'public',
  rateLimit: 'auth',
  body: PasswordResetRequestRoute.request,
  successStatus: 202,
  response: z.strictObject({}),
  errors: [E.validation, E.rateLimited],
});

export const ConfirmPasswordReset = defineHttpRoute({
  method: 'POST',
  path: '/v1/auth/password-reset/confirm',
  summary: 'Set a new password with the emailed token; every session ends',
  tag: 'accounts',
  auth: 'public',
  rateLimit: 'auth',
  body: PasswordResetConfirmRoute.request,
  successStatus: 204,
  response: undefined,
  errors: [E.validation, [400, 'weak_password'], [400, 'invalid_reset_token'], E.rateLimited],
});

export const GetMe = defineHttpRoute({
  method: 'GET',
  path: '/v1/me',
  summary: 'The signed-in user’s profile, Prime status and energy',
  tag: 'accounts',
  auth: 'user',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: MeResponse,
  errors: [E.unauthorized, E.rateLimited],
});

export const UpdateMe = defineHttpRoute({
  method: 'PATCH',
  path: '/v1/me',
  summary: 'Change email or username (rectification, §9.1); an email change needs currentPassword and ends the other sessions',
  tag: 'accounts',
  auth: 'user',
  // It checks a password, so it is limited like login: otherwise a stolen access token
  // could test 120 guesses a minute instead of 10.
  rateLimit: 'auth',
  body: UpdateProfileRoute.request,
  successStatus: 200,
  response: MeResponse,
  errors: [E.validation, E.unauthorized, [401, 'invalid_credentials'], [409, 'email_taken'], [409, 'username_taken'], E.rateLimited],
});

export const DeleteMe = defineHttpRoute({
  method: 'DELETE',
  path: '/v1/me',
  summary: 'Delete the account irreversibly (§10); login stops at once, every service purges',
  tag: 'accounts',
  auth: 'user',
  rateLimit: 'auth',
  body: DeleteAccountRoute.request,
  successStatus: 202,
  response: DeleteAccountRoute.response,
  errors: [E.validation, E.unauthorized, [401, 'invalid_credentials'], E.rateLimited],
});

export const HealthLive = defineHttpRoute({
  method: 'GET',
  path: '/health/live',
  summary: 'The process is up',
  tag: 'health',
  auth: 'public',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: z.object({ status: z.literal('ok') }),
  errors: [],
});

export const HealthReady = defineHttpRoute({
  method: 'GET',
  path: '/health/ready',
  summary: 'NATS and every service (with its database and storage) reachable; 503 otherwise',
  tag: 'health',
  auth: 'public',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: z.object({ status: z.enum(['ok', 'unavailable']), checks: z.record(z.string(), z.enum(['ok', 'failing'])) }),
  errors: [[503, 'unavailable']],
});

export const ACCOUNT_ROUTES = [Register, LogIn, Refresh, LogOut, RequestPasswordReset, ConfirmPasswordReset, GetMe, UpdateMe, DeleteMe] as const;
export const HEALTH_ROUTES = [HealthLive, HealthReady] as const;
