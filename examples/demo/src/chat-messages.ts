import { z } from 'zod';

/** Longest room or member name, in characters. */
export const MAX_NAME_CHARS = 32;
/** Longest chat message, in characters. */
export const MAX_TEXT_CHARS = 2000;

/** A room or member name: 1 to 32 printable characters (letters, digits, punctuation, spaces). */
export const ChatName = z
  .string()
  .trim()
  .min(1)
  .max(MAX_NAME_CHARS)
  .regex(/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]+$/u, 'printable characters only');

/** What a client may send on `/ws/chat`. */
export const ClientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('say'), text: z.string().min(1).max(MAX_TEXT_CHARS) }),
  z.object({ type: z.literal('join'), room: ChatName }),
]);
/** A decoded client message. */
export type ClientMessage = z.output<typeof ClientMessage>;

/** What the server sends on `/ws/chat`; outgoing messages are checked against it. */
export const ServerMessage = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('said'),
    room: z.string(),
    from: z.string(),
    text: z.string(),
    /** ms epoch */
    at: z.number().int(),
  }),
  z.object({ type: z.literal('presence'), room: z.string(), members: z.array(z.string()) }),
  z.object({ type: z.literal('error'), code: z.literal('bad_message'), message: z.string() }),
]);
/** A message the server may send. */
export type ServerMessage = z.input<typeof ServerMessage>;
