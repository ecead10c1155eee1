import { z } from 'zod';
import { ChatName } from './chat-messages.js';
import type { Admission } from './endpoints.js';
import { jsonReply } from './http-reply.js';

/** A chat channel's context: who it is and the room it is in (changed by `join`). */
export interface ChatContext {
  readonly name: string;
  room: string;
}

const ChatQuery = z.object({ name: ChatName, room: ChatName.default('lobby') });

/**
 * Checks `?room=NAME&name=USER` of a `/ws/chat` upgrade: a bad or missing `name`, or a bad `room`,
 * is refused with HTTP 400 and a JSON body listing the problems, before any handshake.
 */
export function admitChat(query: URLSearchParams): Admission<ChatContext> {
  const result = ChatQuery.safeParse({
    name: query.get('name') ?? undefined,
    room: query.get('room') ?? undefined,
  });
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join('.')}: ${issue.message}`,
    );
    return { ok: false, reply: jsonReply({ error: 'bad_query', problems }, 400) };
  }
  return { ok: true, context: { name: result.data.name, room: result.data.room } };
}
