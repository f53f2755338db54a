import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

export interface UserRow {
  id: string;
  email: string;
  username: string;
  password_hash: string;
  role: 'user' | 'operator';
  blocked_at: Date | null;
  prime_active: boolean;
  prime_expires_at: Date | null;
  created_at: Date;
  last_seen_on: string;
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

const COLUMNS = 'id, email, username, password_hash, role, blocked_at, prime_active, prime_expires_at, created_at, last_seen_on::text AS last_seen_on';

@Injectable()
export class UsersRepository {
  async insert(manager: EntityManager, user: { id: string; email: string; username: string; passwordHash: string; role: 'user' | 'operator'; now: Date }): Promise<UserRow> {
    try {
      const [row] = await manager.query<UserRow[]>(
        `INSERT INTO users (id, email, username, password_hash, role, created_at, last_seen_on)
         VALUES ($1, $2, $3, $4, $5, $6, $7::date) RETURNING ${COLUMNS}`,
        [user.id, user.email, user.username, user.passwordHash, user.role, user.now, user.now.toISOString().slice(0, 10)],
      );
      return row!;
    } catch (error) {
      rethrowUnique(error);
    }
  }

  async findById(manager: EntityManager, id: string, options: { lock?: boolean } = {}): Promise<UserRow | undefined> {
    const [row] = await manager.query<UserRow[]>(`SELECT ${COLUMNS} FROM users WHERE id = $1 ${options.lock ? 'FOR UPDATE' : ''}`, [id]);
    return row;
  }

  async findByLogin(manager: EntityManager, login: string): Promise<UserRow | undefined> {
    const column = login.includes('@') ? 'email' : 'username';
    const [row] = await manager.query<UserRow[]>(`SELECT ${COLUMNS} FROM users WHERE lower(${column}) = lower($1)`, [login]);
    return row;
  }

  async update(manager: EntityManager, id: string, changes: { email?: string; username?: string; passwordHash?: string }): Promise<UserRow | undefined> {
    try {
      const [rows] = await manager.query<[UserRow[], number]>(
        `UPDATE users SET email = COALESCE($2, email), username = COALESCE($3, username), password_hash = COALESCE($4, password_hash)
         WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, changes.email ?? null, changes.username ?? null, changes.passwordHash ?? null],
      );
      return rows[0];
    } catch (error) {
      rethrowUnique(error);
    }
  }

  async block(manager: EntityManager, id: string, reason: 'prohibited_content' | 'operator', now: Date): Promise<boolean> {
    const [, count] = await manager.query<[unknown[], number]>('UPDATE users SET blocked_at = $2, blocked_reason = $3 WHERE id = $1 AND blocked_at IS NULL', [id, now, reason]);
    return count > 0;
  }

  /** At most one real write per user per day, however many gateways report (R1.6). */
  async recordSeen(manager: EntityManager, id: string, day: string): Promise<boolean> {
    const [, count] = await manager.query<[unknown[], number]>('UPDATE users SET last_seen_on = $2::date WHERE id = $1 AND last_seen_on < $2::date', [id, day]);
    return count > 0;
  }

  async setPrime(manager: EntityManager, id: string, active: boolean, expiresAt: Date | null): Promise<void> {
    await manager.query('UPDATE users SET prime_active = $2, prime_expires_at = $3 WHERE id = $1', [id, active, expiresAt]);
  }

  /** Erases the row itself (§10.4 irreversible); sessions and tokens go by cascade. */
  async delete(manager: EntityManager, id: string): Promise<boolean> {
    const [, count] = await manager.query<[unknown[], number]>('DELETE FROM users WHERE id = $1', [id]);
    return count > 0;
  }
}
