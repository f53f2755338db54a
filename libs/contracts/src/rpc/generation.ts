import { z } from 'zod';
import { defineRoute } from '../rpc-contract.js';

/** What a user may ask the generation service for (API.md, R4.1). */
export const GenerationKind = z.enum(['song', 'image', 'poem', 'text', 'video']);
export type GenerationKind = z.infer<typeof GenerationKind>;

export const GenerationStatus = z.enum(['queued', 'running', 'succeeded', 'failed']);
export type GenerationStatus = z.infer<typeof GenerationStatus>;

/** Prompts longer than this are refused (400): a prompt is a request, not a document. */
export const MAX_PROMPT_CHARS = 4_000;
/** How many of the user's uploads one generation may use as inputs. */
export const MAX_INPUT_UPLOADS = 4;

export const CreateGenerationRequest = z.strictObject({
  kind: GenerationKind,
  prompt: z.string().trim().min(1).max(MAX_PROMPT_CHARS),
  uploadIds: z.array(z.uuid()).max(MAX_INPUT_UPLOADS).optional(),
  /** A style hint passed to the contractor (for example `formal-letter`, `greeting`, `marketing`). */
  assistantStyle: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/).optional(),
});
export type CreateGenerationRequest = z.infer<typeof CreateGenerationRequest>;

export const GenerationAccepted = z.strictObject({ id: z.uuid(), status: GenerationStatus, cost: z.number().int().nonnegative() });

export const Generation = z.strictObject({
  id: z.uuid(),
  kind: GenerationKind,
  status: GenerationStatus,
  contentId: z.uuid().optional(),
  /** Why a job failed: a code and a message that names no personal data. */
  error: z.strictObject({ code: z.string(), message: z.string() }).optional(),
  createdAt: z.iso.datetime(),
});
export type Generation = z.infer<typeof Generation>;

/** Generated content as clients see it (API.md). `expiresAt` is null while the owner has Prime. */
export const Content = z.strictObject({
  id: z.uuid(),
  kind: GenerationKind,
  mimeType: z.string(),
  bytes: z.number().int().nonnegative(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime().nullable(),
  deletedAt: z.iso.datetime().nullable(),
});
export type Content = z.infer<typeof Content>;

const ContentId = z.strictObject({ id: z.uuid() });

export const CreateGenerationRoute = defineRoute({ service: 'generation', method: 'generations.create', request: CreateGenerationRequest, response: GenerationAccepted });
export const GetGenerationRoute = defineRoute({ service: 'generation', method: 'generations.get', request: z.strictObject({ id: z.uuid() }), response: Generation });
export const ListContentsRoute = defineRoute({
  service: 'generation',
  method: 'contents.list',
  request: z.strictObject({ deleted: z.boolean().default(false) }),
  response: z.strictObject({ items: z.array(Content) }),
});
export const GetContentRoute = defineRoute({ service: 'generation', method: 'contents.get', request: ContentId, response: Content });
/** A signed URL of the object, valid for at most 15 minutes; the gateway streams it or redirects to it. */
export const GetContentFileRoute = defineRoute({
  service: 'generation',
  method: 'contents.file',
  request: ContentId,
  response: z.strictObject({ url: z.url(), mimeType: z.string(), bytes: z.number().int().nonnegative(), expiresAt: z.iso.datetime() }),
});
export const DeleteContentRoute = defineRoute({ service: 'generation', method: 'contents.delete', request: ContentId, response: z.strictObject({}) });
export const RestoreContentRoute = defineRoute({ service: 'generation', method: 'contents.restore', request: ContentId, response: Content });

/** One turn of a conversation handed to the egress: who spoke and what was said. */
export const ChatTurn = z.strictObject({ role: z.enum(['user', 'assistant']), text: z.string().min(1).max(8_000) });

/**
 * A chat reply through generation's anonymizing egress (R5.1, §7.2): the recent conversation
 * (newest last, at most 16,000 characters in all — chat trims older turns) and the
 * assistant's style. Generation scrubs every turn of the user's identifiers, dispatches it
 * as a `text` job and answers the reply text; it stores nothing. Service-to-service only.
 */
export const ChatReplyRoute = defineRoute({
  service: 'generation',
  method: 'chat.reply',
  request: z
    .strictObject({
      userId: z.uuid(),
      style: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/),
      turns: z.array(ChatTurn).min(1).max(100),
    })
    .refine((request) => request.turns.reduce((sum, turn) => sum + turn.text.length, 0) <= 16_000, { message: 'at most 16,000 characters in all', path: ['turns'] }),
  response: z.strictObject({ text: z.string().min(1).max(100_000) }),
  callers: ['chat'],
});
