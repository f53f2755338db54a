import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@homiwork/clock';
import type { EventPayload, InactiveAccountDueV1 } from '@homiwork/contracts';
import { MailSender } from '@homiwork/mail';
import { Transactor } from '@homiwork/persistence';
import { SecurityEventsRepository } from '../../persistence/security-events.repository.js';
import { UsersRepository } from '../../persistence/users.repository.js';

/**
 * §5.2, R1.6: some weeks before an unused account is erased, its owner is told by email on
 * which date it will be deleted unless they log in. Retention sends InactiveAccountDue
 * (stage `warning`) when the time comes; identity writes the mail, at most once per period
 * of inactivity (the last-seen day it was sent for is recorded), and not to a user who came
 * back since, nor to an account already pending erasure.
 *
 * It runs in the consumer's transaction, with the account row locked: the record and the
 * mail go together — a mail that fails rolls the record back and the event is delivered
 * again; a commit that fails after the mail went out may send it a second time (the rare
 * duplicate is preferred to a lost warning).
 */
@Injectable()
export class WarnInactiveAccount {
  constructor(
    private readonly transactor: Transactor,
    private readonly users: UsersRepository,
    private readonly securityEvents: SecurityEventsRepository,
    private readonly mail: MailSender,
    @Inject(Clock) private readonly clock: Clock,
  ) {}

  /** Returns whether a warning was sent. */
  execute(due: EventPayload<typeof InactiveAccountDueV1>): Promise<boolean> {
    return this.transactor.run(async () => {
      const user = await this.users.findById(due.userId, { lock: true });
      if (!user || user.erasure) return false;
      if (user.lastSeenOn > due.lastSeenOn) return false;
      if (user.inactivityWarnedFor !== null && user.inactivityWarnedFor >= due.lastSeenOn) return false;
      const now = this.clock.now();
      await this.users.markInactivityWarned(user.id, due.lastSeenOn);
      await this.securityEvents.record({ userId: user.id, type: 'inactivity_warning_sent', origin: {}, now });
      const erasureDay = due.erasureAt.slice(0, 10);
      await this.mail.send({
        to: user.email,
        subject: `Your homiwork account will be deleted on ${erasureDay}`,
        text: [
          `Your homiwork account has not been used since ${due.lastSeenOn}.`,
          `Accounts unused for one year are deleted with all their data (privacy policy §5.2). Yours will be deleted on ${erasureDay} (UTC).`,
          '',
          'To keep it, simply log in before that date.',
          '',
          'If you want it deleted, you need not do anything.',
        ].join('\n'),
      });
      return true;
    });
  }
}
