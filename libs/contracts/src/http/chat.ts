import { ListAssistantsRoute, ListMessagesRoute, SendMessageRoute } from '../rpc/chat.js';
import { COMMON_ERRORS as E, defineHttpRoute } from './http-route.js';

export const ListAssistants = defineHttpRoute({
  method: 'GET',
  path: '/v1/assistants',
  summary: 'The AI assistants one can chat with',
  tag: 'assistants',
  auth: 'user',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: ListAssistantsRoute.response,
  errors: [E.unauthorized, E.rateLimited],
});

export const SendMessage = defineHttpRoute({
  method: 'POST',
  path: '/v1/assistants/:assistantId/messages',
  summary: 'Send a message and get the assistant’s reply (through the anonymizing egress); only the last 100 messages per assistant are kept',
  tag: 'assistants',
  auth: 'user',
  rateLimit: 'write',
  body: SendMessageRoute.request.pick({ text: true }),
  successStatus: 201,
  response: SendMessageRoute.response,
  errors: [E.validation, E.invalidJson, E.unauthorized, [402, 'insufficient_energy'], [403, 'processing_restricted'], E.notFound, [422, 'content_rejected'], E.rateLimited, [502, 'reply_failed'], E.unavailable],
});

export const ListMessages = defineHttpRoute({
  method: 'GET',
  path: '/v1/assistants/:assistantId/messages',
  summary: 'The stored conversation with an assistant, oldest first (at most 100 messages)',
  tag: 'assistants',
  auth: 'user',
  rateLimit: 'read',
  body: undefined,
  successStatus: 200,
  response: ListMessagesRoute.response,
  errors: [E.unauthorized, E.notFound, E.rateLimited],
});

export const ClearMessages = defineHttpRoute({
  method: 'DELETE',
  path: '/v1/assistants/:assistantId/messages',
  summary: 'Delete the whole conversation with an assistant now',
  tag: 'assistants',
  auth: 'user',
  rateLimit: 'write',
  body: undefined,
  successStatus: 204,
  response: undefined,
  errors: [E.unauthorized, E.notFound, E.rateLimited],
});


export const CHAT_ROUTES = [ListAssistants, SendMessage, ListMessages, ClearMessages] as const;
