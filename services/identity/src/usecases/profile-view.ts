import type { UserRow } from '../persistence/users.repository.js';

export function toPublicUser(row: UserRow): { id: string; email: string; username: string; createdAt: string } {
  return { id: row.id, email: row.email, username: row.username, createdAt: row.created_at.toISOString() };
}

export function toProfile(row: UserRow): ReturnType<typeof toPublicUser> & { prime: { active: boolean; expiresAt: string | null } } {
  return { ...toPublicUser(row), prime: { active: row.prime_active, expiresAt: row.prime_expires_at?.toISOString() ?? null } };
}
