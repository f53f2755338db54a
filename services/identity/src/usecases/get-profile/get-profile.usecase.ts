import { Injectable } from '@nestjs/common';
import type { CallerContext } from '@homiwork/contracts';
import { IdentityErrors } from '../../identity-errors.js';
import { UsersRepository } from '../../persistence/users.repository.js';
import { toProfile } from '../profile-view.js';

@Injectable()
export class GetProfile {
  constructor(private readonly users: UsersRepository) {}

  async execute(caller: CallerContext): Promise<ReturnType<typeof toProfile>> {
    if (!caller.userId) throw IdentityErrors.unauthenticated();
    const user = await this.users.findById(caller.userId);
    // A token outliving its account (deleted, or its erasure asked for, a moment ago) is simply not authenticated.
    if (!user || user.erasure) throw IdentityErrors.unauthenticated();
    return toProfile(user);
  }
}
