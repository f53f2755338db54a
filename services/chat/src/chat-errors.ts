import { RpcError } from '@homiwork/messaging';
import { ChatRpc } from '@homiwork/contracts';

// The answers chat gives. Messages name the problem (and the field) and never echo personal
// data: no message text; the assistant id is catalogue data, not the user's.
export const ChatErrors = {
  unauthenticated: () => new RpcError(401, 'unauthorized', 'authentication required'),
  // A request that finishes after its account was deleted: 401, like every other request of
  // that account from then on, as generation and media answer it.
  accountDeleted: () => new RpcError(401, 'unauthorized', 'this account has been deleted; nothing was stored'),
  assistantNotFound: (assistantId: string) => new RpcError(404, 'not_found', `assistantId: no assistant "${assistantId}"`),
  textInvalid: () => new RpcError(400, 'validation_failed', `text: must be 1 to ${ChatRpc.MAX_MESSAGE_CHARS} characters once trimmed`),
  textRejected: () => new RpcError(422, 'content_rejected', 'text: this message cannot be accepted under the service rules'),
  reservationFailed: () => new RpcError(503, 'service_unavailable', 'energy could not be reserved; nothing was stored or charged, try again shortly', 5),
  replyFailed: () => new RpcError(502, 'reply_failed', 'the assistant could not answer; your message is kept, marked unanswered, and nothing was charged'),
};
