import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { RetentionRpc } from '@homiwork/contracts';
import { RpcClient } from '@homiwork/messaging';

/**
 * The users under a legal hold now (§12.2), asked of retention before a service's own
 * safety-net sweep deletes anything. It throws when retention does not answer, and the
 * sweep then does not run: a sweep that cannot see the holds must not delete (fails closed).
 * Asked afresh for every sweep, never cached: a hold placed a second ago already counts.
 */
@Injectable()
export class LegalHolds {
  constructor(private readonly rpc: RpcClient) {}

  async heldUserIds(): Promise<string[]> {
    const { userIds } = await this.rpc.call(RetentionRpc.ActiveHoldsRoute, {}, { requestId: randomUUID() });
    return userIds;
  }
}
