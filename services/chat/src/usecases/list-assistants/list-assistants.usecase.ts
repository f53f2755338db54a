import { Injectable } from '@nestjs/common';
import type { ChatRpc } from '@homiwork/contracts';
import { ASSISTANTS } from '../../domain/assistants.js';

/** R5.1: the catalogue, without the style ids (those are between chat and generation). */
@Injectable()
export class ListAssistants {
  execute(): { items: ChatRpc.Assistant[] } {
    return { items: ASSISTANTS.map(({ id, name, description }) => ({ id, name, description })) };
  }
}
