import type { User } from '../persistence/users.repository.js';

export function toPublicUser(user: User): { id: string; email: string; username: string; createdAt: string } {
  return { id: user.id, email: user.email, username: user.username, createdAt: user.createdAt.toISOString() };
}

export function toProfile(user: User): ReturnType<typeof toPublicUser> & { prime: { active: boolean; expiresAt: string | null } } {
  return { ...toPublicUser(user), prime: { active: user.prime.active, expiresAt: user.prime.expiresAt?.toISOString() ?? null } };
}
