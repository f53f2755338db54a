import { Injectable } from '@nestjs/common';
import type { EventPayload, InactiveAccountDueV1 } from '@homiwork/contracts';
import { RequestErasure, type ErasureRequestOutcome } from '../request-erasure/request-erasure.usecase.js';

/**
 * §5.2, §10.3: an account unused for a year is erased through the normal path (RequestErasure,
 * reason `inactivity`; a legal hold still stops the deletion). Retention's InactiveAccountDue
 * (stage `erasure`) names the last-seen day it counted from; a user seen after that day came
 * back (a login racing the event included — the check runs on the locked row) and is not
 * erased. Retention does not send it for a held user.
 */
@Injectable()
export class EraseInactiveAccount {
  constructor(private readonly requestErasure: RequestErasure) {}

  execute(due: EventPayload<typeof InactiveAccountDueV1>): Promise<ErasureRequestOutcome> {
    return this.requestErasure.execute(due.userId, 'inactivity', { onlyIf: (user) => user.lastSeenOn <= due.lastSeenOn });
  }
}
