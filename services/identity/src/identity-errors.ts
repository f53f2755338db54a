import { RpcError } from '@homiwork/messaging';

// The answers identity gives; messages are for people and name the problem without
// revealing anything about other accounts.
export const IdentityErrors = {
  emailTaken: () => new RpcError(409, 'email_taken', 'this email is already registered'),
  usernameTaken: () => new RpcError(409, 'username_taken', 'this username is already taken'),
  weakPassword: () => new RpcError(400, 'weak_password', 'password: is too common or contains the username; choose another'),
  invalidCredentials: () => new RpcError(401, 'invalid_credentials', 'login or password is wrong'),
  accountBlocked: () => new RpcError(403, 'account_blocked', 'this account is blocked; contact support@homiwork.com'),
  invalidRefreshToken: () => new RpcError(401, 'invalid_refresh_token', 'the refresh token is invalid, expired or already used; log in again'),
  invalidResetToken: () => new RpcError(400, 'invalid_reset_token', 'the reset link is invalid, expired or already used'),
  userNotFound: () => new RpcError(404, 'user_not_found', 'no such user (erased or never registered)'),
  operatorOnly: () => new RpcError(403, 'forbidden', 'this operation needs the operator role'),
  unauthenticated: () => new RpcError(401, 'unauthorized', 'authentication required'),
  tooManyPasswordAttempts: (retryAfterSeconds: number) => new RpcError(429, 'rate_limited', 'too many wrong passwords for this account; try again later', retryAfterSeconds),
};
