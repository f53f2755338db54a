import { Injectable } from '@nestjs/common';
import type { CallerContext } from '@homiwork/contracts';
import { BillingErrors } from '../../billing-errors.js';
import { EnergyLedgerRepository } from '../../persistence/energy-ledger.repository.js';

/** The caller's energy (0 before the signup grant arrived). */
@Injectable()
export class GetBalance {
  constructor(private readonly ledger: EnergyLedgerRepository) {}

  async execute(caller: CallerContext): Promise<{ energy: number }> {
    if (!caller.userId) throw BillingErrors.unauthenticated();
    return { energy: await this.ledger.balanceOf(caller.userId) };
  }
}
