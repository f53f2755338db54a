import { RpcError } from '@homiwork/messaging';
import { ChatRpc } from '@homiwork/contracts';

// The answers chat gives. Messages name the problem (and the field) and never echo personal
// data: no message text; the assistant id is catalogue data, not the user's.
export const ChatErrors = {
  unauthenticated: () => new RpcError(401, 'unauthorized', 'authentication required'),
  // A request that finishes after its account was deleted: 401, like every other request of
  // that account from then on, as generation and media answer it.
  accountDeleted: () => new RpcError(401, 'unauthorized', 'this account has been deleted; nothing was stored'),
  // R7.3: while a restriction or objection is in force nothing of the user's is processed.
  processingRestricted: () => new RpcError(403, 'processing_restricted', 'a restriction of processing or an objection you made is in force (§9), so your data is not processed and nothing was stored or charged; withdraw that privacy request (DELETE /v1/privacy/requests/:id) to lift it'),
  restrictedBeforeReply: () => new RpcError(403, 'processing_restricted', 'a restriction of processing or an objection you made came into force before the reply (§9): your message is kept unanswered, nothing was charged, and no reply is made while it is in force'),
  assistantNotFound: (assistantId: string) => new RpcError(404, 'not_found', `assistantId: no assistant "${assistantId}"`),
  textInvalid: () => new RpcError(400, 'validation_failed', `text: must be 1 to ${ChatRpc.MAX_MESSAGE_CHARS} characters once trimmed`),
  textRejected: () => new RpcError(422, 'content_rejected', 'text: this message cannot be accepted under the service rules'),
  reservationFailed: () => new RpcError(503, 'service_unavailable', 'energy could not be reserved; nothing was stored or charged, try again shortly', 5),
  replyFailed: () => new RpcError(502, 'reply_failed', 'the assistant could not answer; your message is kept, marked unanswered, and nothing was charged'),
};
