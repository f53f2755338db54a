import { RpcError } from '@homiwork/messaging';

// The answers generation gives. Messages name the problem (and the field) and never echo
// personal data: no prompt text, no ids other than the position of a bad one.
export const GenerationErrors = {
  unauthenticated: () => new RpcError(401, 'unauthorized', 'authentication required'),
  // A request that finishes after its account was deleted: 401, like every other request of
  // that account from then on (its tokens are revoked), as media answers it.
  accountDeleted: () => new RpcError(401, 'unauthorized', 'this account has been deleted; nothing was stored'),
  // R7.3: while a restriction or objection is in force nothing of the user's is processed.
  processingRestricted: () => new RpcError(403, 'processing_restricted', 'a restriction of processing or an objection you made is in force (§9), so your data is not processed and nothing was stored or charged; withdraw that privacy request (DELETE /v1/privacy/requests/:id) to lift it'),
  generationNotFound: () => new RpcError(404, 'not_found', 'no such generation'),
  contentNotFound: () => new RpcError(404, 'not_found', 'no such content'),
  uploadNotFound: (index: number) => new RpcError(404, 'upload_not_found', `uploadIds.${index}: no such upload`),
  unsupportedInput: (index: number, uploadKind: string, kind: string, accepted: readonly string[]) =>
    new RpcError(422, 'unsupported_input', `uploadIds.${index}: a ${uploadKind} upload cannot be an input of a ${kind}; it takes ${accepted.join(' or ')} uploads only`),
  inputsTooLarge: (maxBytes: number) =>
    new RpcError(422, 'inputs_too_large', `uploadIds: the uploads together are larger than ${Math.floor(maxBytes / (1024 * 1024))} MB, the most one generation can use`),
  // NFKC spells out compatibility characters (one `㌖` is six letters): the scrubber works on
  // that form, so the limit is counted on it too.
  promptTooLong: (maxChars: number) => new RpcError(400, 'validation_failed', `prompt: longer than ${maxChars} characters once its compatibility characters are spelled out (Unicode NFKC)`),
  promptRejected: () => new RpcError(422, 'content_rejected', 'prompt: this request cannot be accepted under the service rules'),
  uploadsUnavailable: () => new RpcError(503, 'service_unavailable', 'the uploads could not be checked; nothing was charged, try again shortly', 5),
  reservationFailed: () => new RpcError(503, 'service_unavailable', 'energy could not be reserved; nothing is charged, try again shortly', 5),
  // Chat replies (chat.reply, service-to-service): nothing is stored whatever the answer.
  callerMismatch: () => new RpcError(403, 'forbidden', 'userId: not the user this request is made for'),
  conversationTooLong: (maxChars: number) =>
    new RpcError(400, 'validation_failed', `turns: longer than ${maxChars} characters in all once their compatibility characters are spelled out (Unicode NFKC)`),
  identifiersUnavailable: () => new RpcError(503, 'identifiers_unavailable', 'the conversation could not be anonymized just now, so nothing was sent; try again shortly', 5),
  conversationNotAnonymous: () => new RpcError(422, 'anonymization_failed', 'turns: the conversation could not be shown to be free of personal data, so nothing was sent'),
  contractorUnavailable: () => new RpcError(503, 'contractor_unavailable', 'the reply provider is unavailable; nothing was sent or kept, try again shortly', 5),
  replyFailed: () => new RpcError(502, 'reply_failed', 'the reply provider gave no usable reply; nothing was kept'),
  replyRejected: () => new RpcError(422, 'content_rejected', 'the reply cannot be given under the service rules'),
};
