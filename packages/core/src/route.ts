import type { Channel } from './channel.js';
import type { Codec } from './codec.js';
import { type RawMessage, raw } from './codecs/raw.js';
import type { RouteOptions } from './config.js';
import type { DecodeError, WslaneError } from './errors.js';

/** What a route does with its channels. Each hook may be async; errors are reported, never thrown. */
export interface RouteHandlers<TIn, TOut, TContext> {
  /** Runs once the socket is open; messages that arrive meanwhile wait for it. */
  onOpen?(channel: Channel<TOut, TContext>): unknown;
  /** One decoded message; calls of one channel run one at a time (see `concurrency`). */
  onMessage?(message: TIn, channel: Channel<TOut, TContext>): unknown;
  /** After the socket closed and the last handler call settled. */
  onClose?(channel: Channel<TOut, TContext>, code: number, reason: string): unknown;
  /** A handler failure, a bad peer or a timeout that ended the channel. */
  onError?(error: WslaneError, channel: Channel<TOut, TContext>): void;
  /**
   * A message the codec could not decode (`WSLANE_CODEC_DECODE`). When set, the channel stays open
   * and this runs in the message's place; when absent the channel closes with 1007.
   */
  onInvalidMessage?(error: DecodeError, channel: Channel<TOut, TContext>): unknown;
}

/** Everything a route is: codec, handlers, session key and per-route overrides. */
export interface RouteDefinition<TIn, TOut, TContext> extends RouteHandlers<TIn, TOut, TContext> {
  /** Shown in logs and stats; scopes session keys. @default "route-<n>" */
  readonly name?: string;
  /** @default raw() */
  readonly codec?: Codec<TIn, TOut>;
  /** Session key of a connection, from its context; at most one open channel per key and route. */
  readonly key?: (context: TContext) => string | undefined;
  /** Overrides of the hub config for this route's channels. */
  readonly options?: RouteOptions;
}

/** A validated route, ready to hand to `hub.handleUpgrade` or an adapter. */
export interface Route<TIn = RawMessage, TOut = RawMessage, TContext = unknown>
  extends RouteDefinition<TIn, TOut, TContext> {
  readonly name: string;
  readonly codec: Codec<TIn, TOut>;
}

let routeCount = 0;

/**
 * Defines what a path does.
 *
 * @example
 * ```ts
 * const echo = createRoute({ onMessage: (message, channel) => channel.send(message) });
 * const chat = createRoute({
 *   name: 'chat',
 *   codec: json(ChatMessage),
 *   key: (ctx: { user: string }) => ctx.user,
 *   onMessage: (message, channel) => channel.send({ type: 'ack' }),
 * });
 * ```
 */
export function createRoute<TIn = RawMessage, TOut = RawMessage, TContext = unknown>(
  definition: RouteDefinition<TIn, TOut, TContext>,
): Route<TIn, TOut, TContext> {
  routeCount++;
  return {
    ...definition,
    name: definition.name ?? `route-${routeCount}`,
    codec: definition.codec ?? (raw() as unknown as Codec<TIn, TOut>),
  };
}
