import { type ChannelManager, createRoute, json, type Route } from '@wslane/core';
import { ClientMessage, ServerMessage } from './chat-messages.js';
import type { ChatContext } from './chat-query.js';
import { ChatRooms } from './chat-rooms.js';

/**
 * `/ws/chat`: JSON in and out, checked by zod schemas both ways. One live connection per name (a
 * newer one replaces the older, which is closed with 4409); a message that fails the schema gets
 * an `error` reply and the connection stays open.
 */
export function createChatRoute(
  channels: ChannelManager,
): Route<ClientMessage, ServerMessage, ChatContext> {
  const rooms = new ChatRooms(channels);
  return createRoute<ClientMessage, ServerMessage, ChatContext>({
    name: 'chat',
    codec: json(ClientMessage, { outbound: ServerMessage }),
    key: (context) => context.name,
    onOpen: (channel) => rooms.enter(channel),
    onMessage: (message, channel) => {
      if (message.type === 'say') rooms.say(channel, message.text);
      else rooms.move(channel, message.room);
    },
    onInvalidMessage: (error, channel) => {
      channel.trySend({ type: 'error', code: 'bad_message', message: error.message });
    },
    onClose: (channel) => rooms.left(channel),
  });
}
