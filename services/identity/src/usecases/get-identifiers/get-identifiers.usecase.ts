import { Injectable } from '@nestjs/common';
import { IdentityErrors } from '../../identity-errors.js';
import { UsersRepository } from '../../persistence/users.repository.js';

/**
 * §7.1, §7.2: the identifiers another service must keep away from a contractor (generation
 * and chat scrub them from prompts) or must hand to the payment processor (billing: the
 * email only). Callers use the answer for one request and keep nothing.
 */
@Injectable()
export class GetIdentifiers {
  constructor(private readonly users: UsersRepository) {}

  async execute(userId: string): Promise<{ email: string; username: string }> {
    const user = await this.users.findById(userId);
    if (!user) throw IdentityErrors.userNotFound();
    return { email: user.email, username: user.username };
  }
}
