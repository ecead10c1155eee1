import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { ChannelConfig } from './config.js';
import type { Logger } from './logger.js';
import type { OpenChannel } from './open-channel.js';
import type { Route } from './route.js';

/** An open channel of any route: what the hub and the manager hold. */
// biome-ignore lint/suspicious/noExplicitAny: channels of every route share one registry.
export type AnyOpenChannel = OpenChannel<any, any, any>;

/** What an open channel needs from the hub that owns it. */
export interface ChannelHost {
  readonly logger: Logger;
  join(channel: AnyOpenChannel, room: string): void;
  leave(channel: AnyOpenChannel, room: string): void;
  /** The socket is gone: drop the channel from every map and from the clock. */
  release(channel: AnyOpenChannel): void;
}

/** Everything a channel is built from. */
export interface ChannelInit<TContext> {
  readonly id: string;
  readonly key: string | undefined;
  readonly context: TContext;
  readonly ws: WebSocket;
  readonly socket: Duplex;
  // biome-ignore lint/suspicious/noExplicitAny: a channel serves routes of any message types.
  readonly route: Route<any, any, TContext>;
  readonly config: ChannelConfig;
  readonly host: ChannelHost;
  readonly remoteAddress: string;
}
