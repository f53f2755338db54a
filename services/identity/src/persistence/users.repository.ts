import { Injectable } from '@nestjs/common';
import type { ErasureReason } from '@homiwork/contracts';
import { Database } from '@homiwork/persistence';
import type { z } from 'zod';

export type Role = 'user' | 'operator';
export type BlockReason = 'prohibited_content' | 'operator';
export type ErasureReasonValue = z.infer<typeof ErasureReason>;

/** The open erasure of an account: asked for, not yet approved by retention (the account is disabled meanwhile). */
export interface PendingErasure {
  id: string;
  reason: ErasureReasonValue;
  requestedAt: Date;
}

/** An account as identity's use cases see it. */
export interface User {
  id: string;
  email: string;
  username: string;
  passwordHash: string;
  role: Role;
  blockedAt: Date | null;
  blockedReason: BlockReason | null;
  prime: { active: boolean; expiresAt: Date | null };
  createdAt: Date;
  /** UTC day (YYYY-MM-DD) of the last recorded activity. */
  lastSeenOn: string;
  /** Set once an erasure is asked for: the account can no longer be used and awaits retention's approval. */
  erasure: PendingErasure | null;
  /** The last-seen day the inactivity warning was sent for (§5.2), if any. */
  inactivityWarnedFor: string | null;
}

interface UserRow {
  id: string;
  email: string;
  username: string;
  password_hash: string;
  role: Role;
  blocked_at: Date | null;
  blocked_reason: BlockReason | null;
  prime_active: boolean;
  prime_expires_at: Date | null;
  created_at: Date;
  last_seen_on: string;
  erasure_id: string | null;
  erasure_reason: ErasureReasonValue | null;
  erasure_requested_at: Date | null;
  inactivity_warned_for: string | null;
}

function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    username: row.username,
    passwordHash: row.password_hash,
    role: row.role,
    blockedAt: row.blocked_at,
    blockedReason: row.blocked_reason,
    prime: { active: row.prime_active, expiresAt: row.prime_expires_at },
    createdAt: row.created_at,
    lastSeenOn: row.last_seen_on,
    erasure: row.erasure_id && row.erasure_reason && row.erasure_requested_at ? { id: row.erasure_id, reason: row.erasure_reason, requestedAt: row.erasure_requested_at } : null,
    inactivityWarnedFor: row.inactivity_warned_for,
  };
}

export class UniqueViolation extends Error {
  constructor(readonly field: 'email' | 'username') {
    super(`${field} is taken`);
  }
}

/** Maps PostgreSQL's unique-violation on our two indexes to the field that clashed. */
function rethrowUnique(error: unknown): never {
  const pgError = error as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  const code = pgError.driverError?.code ?? pgError.code;
  const constraint = pgError.driverError?.constraint ?? pgError.constraint;
  if (code === '23505' && constraint === 'users_email_key') throw new UniqueViolation('email');
  if (code === '23505' && constraint === 'users_username_key') throw new UniqueViolation('username');
  throw error;
}

const COLUMNS =
  'id, email, username, password_hash, role, blocked_at, blocked_reason, prime_active, prime_expires_at, created_at, last_seen_on::text AS last_seen_on, ' +
  'erasure_id, erasure_reason, erasure_requested_at, inactivity_warned_for::text AS inactivity_warned_for';

/** Accounts. Every method runs in the caller's transaction when there is one (Transactor). */
@Injectable()
export class UsersRepository {
  constructor(private readonly db: Database) {}

  async insert(user: { id: string; email: string; username: string; passwordHash: string; role: Role; now: Date }): Promise<User> {
    try {
      const [row] = await this.db.query<UserRow[]>(
        `INSERT INTO users (id, email, username, password_hash, role, created_at, last_seen_on)
         VALUES ($1, $2, $3, $4, $5, $6, $7::date) RETURNING ${COLUMNS}`,
        [user.id, user.email, user.username, user.passwordHash, user.role, user.now, user.now.toISOString().slice(0, 10)],
      );
      return toUser(row!);
    } catch (error) {
      rethrowUnique(error);
    }
  }

  /** `lock` holds the row until the transaction ends (FOR UPDATE); only useful inside one. */
  async findById(id: string, options: { lock?: boolean } = {}): Promise<User | undefined> {
    const [row] = await this.db.query<UserRow[]>(`SELECT ${COLUMNS} FROM users WHERE id = $1 ${options.lock ? 'FOR UPDATE' : ''}`, [id]);
    return row && toUser(row);
  }

  async findByLogin(login: string): Promise<User | undefined> {
    const column = login.includes('@') ? 'email' : 'username';
    const [row] = await this.db.query<UserRow[]>(`SELECT ${COLUMNS} FROM users WHERE lower(${column}) = lower($1)`, [login]);
    return row && toUser(row);
  }

  async update(id: string, changes: { email?: string; username?: string; passwordHash?: string }): Promise<User | undefined> {
    try {
      const [rows] = await this.db.query<[UserRow[], number]>(
        `UPDATE users SET email = COALESCE($2, email), username = COALESCE($3, username), password_hash = COALESCE($4, password_hash)
         WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, changes.email ?? null, changes.username ?? null, changes.passwordHash ?? null],
      );
      return rows[0] && toUser(rows[0]);
    } catch (error) {
      rethrowUnique(error);
    }
  }

  async block(id: string, reason: BlockReason, now: Date): Promise<boolean> {
    const [, count] = await this.db.query<[unknown[], number]>('UPDATE users SET blocked_at = $2, blocked_reason = $3 WHERE id = $1 AND blocked_at IS NULL', [id, now, reason]);
    return count > 0;
  }

  /** Records the open erasure; false when one is already recorded (the caller holds the row lock, so it is not). */
  async markErasureRequested(id: string, erasure: PendingErasure): Promise<boolean> {
    const [, count] = await this.db.query<[unknown[], number]>(
      'UPDATE users SET erasure_id = $2, erasure_reason = $3, erasure_requested_at = $4 WHERE id = $1 AND erasure_id IS NULL',
      [id, erasure.id, erasure.reason, erasure.requestedAt],
    );
    return count > 0;
  }

  /** Remembers that the inactivity warning for this last-seen day went out (§5.2: once per period of inactivity). */
  async markInactivityWarned(id: string, lastSeenOn: string): Promise<void> {
    await this.db.query('UPDATE users SET inactivity_warned_for = $2::date WHERE id = $1', [id, lastSeenOn]);
  }

  /** At most one real write per user per day, however many gateways report (R1.6). */
  async recordSeen(id: string, day: string): Promise<boolean> {
    const [, count] = await this.db.query<[unknown[], number]>('UPDATE users SET last_seen_on = $2::date WHERE id = $1 AND last_seen_on < $2::date', [id, day]);
    return count > 0;
  }

  async setPrime(id: string, prime: { active: boolean; expiresAt: Date | null }): Promise<void> {
    await this.db.query('UPDATE users SET prime_active = $2, prime_expires_at = $3 WHERE id = $1', [id, prime.active, prime.expiresAt]);
  }

  /** Erases the row itself (§10.4 irreversible); sessions and tokens go by cascade. */
  async delete(id: string): Promise<boolean> {
    const [, count] = await this.db.query<[unknown[], number]>('DELETE FROM users WHERE id = $1', [id]);
    return count > 0;
  }
}
