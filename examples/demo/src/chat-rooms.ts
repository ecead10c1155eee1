import type { Channel, ChannelManager } from '@wslane/core';
import type { ServerMessage } from './chat-messages.js';
import type { ChatContext } from './chat-query.js';

/** A channel of the chat route. */
export type ChatChannel = Channel<ServerMessage, ChatContext>;

/** Chat rooms on top of the hub's rooms: who is where, what they say, and presence updates. */
export class ChatRooms {
  readonly #channels: ChannelManager;

  constructor(channels: ChannelManager) {
    this.#channels = channels;
  }

  /** Puts a new channel in its room; everyone there, the newcomer included, gets the members. */
  enter(channel: ChatChannel): void {
    channel.join(channel.context.room);
    this.#announce(channel.context.room);
  }

  /** Moves a channel to `room`: both rooms hear about it. */
  move(channel: ChatChannel, room: string): void {
    const previous = channel.context.room;
    if (previous !== room) {
      channel.leave(previous);
      channel.context.room = room;
      this.#announce(previous);
    }
    this.enter(channel);
  }

  /** A channel closed (the hub already took it out of its rooms): tell the ones left. */
  left(channel: ChatChannel): void {
    this.#announce(channel.context.room);
  }

  /** Everyone in the sender's room, the sender included, gets the message. */
  say(channel: ChatChannel, text: string): void {
    const { room, name } = channel.context;
    this.#channels.room(room).broadcast({ type: 'said', room, from: name, text, at: Date.now() });
  }

  #announce(room: string): void {
    const names = new Set<string>();
    for (const member of this.#channels.room(room).members()) {
      // A channel being replaced (4409) is still in the room until it has closed.
      if (member.state === 'open') names.add((member.context as ChatContext).name);
    }
    const members = [...names].sort((a, b) => a.localeCompare(b));
    this.#channels.room(room).broadcast({ type: 'presence', room, members });
  }
}
