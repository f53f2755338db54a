import { z } from 'zod';

// Field rules shared by the gateway (fail fast, name the field) and identity (the
// authority). Limits are deliberate: an email fits RFC 5321's 254, a username is a
// handle not a name, a password is long enough for passphrases and short enough that
// hashing it is not a denial-of-service vector.
export const Email = z.string().trim().max(254, 'must be at most 254 characters').pipe(z.email('must be an email address'));
export const Username = z
  .string()
  .trim()
  .min(3, 'must be at least 3 characters')
  .max(32, 'must be at most 32 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'may contain letters, digits, ".", "_" and "-", starting with a letter or digit');
export const Password = z.string().min(8, 'must be at least 8 characters').max(1024, 'must be at most 1024 characters');
export const Login = z.string().trim().min(1, 'is required').max(254, 'must be at most 254 characters');
export const OpaqueToken = z.string().min(16).max(512).regex(/^[A-Za-z0-9_.-]+$/, 'is malformed');
