import { Injectable } from '@nestjs/common';
import { EXPORT_PAGE_TARGET_BYTES, type ExportSlicePage } from '@homiwork/contracts';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';
import { SessionsRepository } from '../../persistence/sessions.repository.js';
import { UsersRepository } from '../../persistence/users.repository.js';
import { readExportPage, type ExportSection } from '@homiwork/service-kit';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BIGINT = /^[1-9][0-9]{0,18}$/;

/**
 * Identity's part of the user's export (R7.1, §9.1 access and portability), for retention:
 * `account` (the account as identity holds it — never the password hash), `sessions` (when
 * each began, was last used and ended, the device — never a token hash) and
 * `security_events` (the user's own: type, time, address hash and device; the address hash
 * is data about the user, so it is included). No files. An operator's id and free-text
 * note on an event are not exported: staff notes that may name others (GDPR Art. 15(4)).
 * An unknown user has empty collections.
 */
@Injectable()
export class ExportIdentitySlice {
  constructor(
    private readonly users: UsersRepository,
    private readonly sessions: SessionsRepository,
    private readonly securityEvents: SecurityEventsRepository,
  ) {}

  execute(input: { userId: string; cursor?: string | undefined }, targetBytes = EXPORT_PAGE_TARGET_BYTES): Promise<ExportSlicePage> {
    return readExportPage(this.sections(input.userId), input.cursor, targetBytes);
  }

  private sections(userId: string): ExportSection[] {
    return [
      {
        name: 'account',
        key: UUID,
        read: async (after) => {
          const user = after === null ? await this.users.findById(userId) : undefined;
          if (!user) return [];
          return [
            {
              key: user.id,
              item: {
                id: user.id,
                email: user.email,
                username: user.username,
                role: user.role,
                createdAt: user.createdAt.toISOString(),
                lastSeenOn: user.lastSeenOn,
                blocked: user.blockedAt !== null,
                blockedAt: user.blockedAt?.toISOString() ?? null,
                blockedReason: user.blockedReason,
                prime: { active: user.prime.active, expiresAt: user.prime.expiresAt?.toISOString() ?? null },
                inactivityWarningSentFor: user.inactivityWarnedFor,
                erasure: user.erasure ? { erasureId: user.erasure.id, reason: user.erasure.reason, requestedAt: user.erasure.requestedAt.toISOString() } : null,
              },
            },
          ];
        },
      },
      {
        name: 'sessions',
        key: UUID,
        read: async (after, limit) =>
          (await this.sessions.listForExport(userId, after, limit)).map((session) => ({
            key: session.id,
            item: {
              id: session.id,
              createdAt: session.createdAt.toISOString(),
              lastUsedAt: session.lastUsedAt?.toISOString() ?? null,
              endedAt: session.revokedAt?.toISOString() ?? null,
              endedBecause: session.revokedReason,
              userAgent: session.userAgent,
            },
          })),
      },
      {
        name: 'security_events',
        key: BIGINT,
        read: async (after, limit) =>
          (await this.securityEvents.listForExport(userId, after, limit)).map((event) => ({
            key: event.id,
            item: { type: event.type, occurredAt: event.occurredAt.toISOString(), ipHash: event.ipHash, userAgent: event.userAgent },
          })),
      },
    ];
  }
}
