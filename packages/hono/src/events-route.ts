import {
  type Channel,
  type ChannelState,
  createRoute,
  type RawMessage,
  type RawOutboundMessage,
  type Route,
  type RouteOptions,
  type WslaneError,
} from '@wslane/core';
import { WSContext, type WSContextInit, type WSEvents, type WSReadyState } from 'hono/ws';

/** The channel behind a hono/ws-style socket: `ws.raw` (rooms, stats, `send` with a promise). */
export type HonoChannel = Channel<RawOutboundMessage>;

/** The `ws` argument of hono/ws-style events: Hono's own `WSContext`, over a wslane channel. */
export type HonoWebSocket = WSContext<HonoChannel>;

/** hono/ws-style events, exactly Hono's `WSEvents`, with `ws.raw` the wslane channel. */
export type HonoWebSocketEvents = WSEvents<HonoChannel>;

/** Options of the events form of `upgradeWebSocket`: the route wslane builds around the events. */
export interface UpgradeEventsOptions {
  /** Shown in logs and stats. @default "route-<n>" */
  readonly name?: string;
  /** Overrides of the hub config for these connections (limits, timeouts, backpressure). */
  readonly options?: RouteOptions;
}

/** What a channel of an events route carries: the events of its connection and its URL. */
export interface EventsConnection {
  readonly events: HonoWebSocketEvents;
  readonly url: string;
  /**
   * The channel's `WSContext`, made on first use. Kept here, not in a WeakMap keyed by the
   * channel: an entry whose value points back at its key survives every young-generation GC.
   */
  socket: HonoWebSocket | undefined;
}

/** The context of one connection of an events route. */
export function eventsConnection(events: HonoWebSocketEvents, url: string): EventsConnection {
  return { events, url, socket: undefined };
}

/** Init of {@link WebSocketCloseEvent}. */
export interface WebSocketCloseEventInit {
  readonly code?: number;
  readonly reason?: string;
  readonly wasClean?: boolean;
}

/** The `close` event of hono/ws-style `onClose` (Node 20 has no global `CloseEvent`). */
export class WebSocketCloseEvent extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;

  constructor(type: string, init: WebSocketCloseEventInit = {}) {
    super(type);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? '';
    this.wasClean = init.wasClean ?? false;
  }
}

/** The `error` event of hono/ws-style `onError`: `error` is the `WslaneError` (see its `code`). */
export class WebSocketErrorEvent extends Event {
  readonly error: WslaneError;
  readonly message: string;

  constructor(type: string, error: WslaneError) {
    super(type);
    this.error = error;
    this.message = error.message;
  }
}

type EventsChannel = Channel<RawOutboundMessage, EventsConnection>;

const READY_STATES: Readonly<Record<ChannelState, WSReadyState>> = {
  open: 1,
  closing: 2,
  closed: 3,
};

/**
 * One core route (raw codec) whose handlers call the events each connection brought in its
 * context. Handler errors follow core rules: `onError`, then close 1011.
 */
export function createEventsRoute(
  options: UpgradeEventsOptions = {},
): Route<RawMessage, RawOutboundMessage, EventsConnection> {
  return createRoute<RawMessage, RawOutboundMessage, EventsConnection>({
    name: options.name,
    options: options.options,
    onOpen: (channel) => channel.context.events.onOpen?.(new Event('open'), socketOf(channel)),
    onMessage: (message, channel) => {
      const ws = socketOf(channel);
      const data = toMessageData(message, ws.binaryType);
      return channel.context.events.onMessage?.(new MessageEvent('message', { data }), ws);
    },
    onClose: (channel, code, reason) => {
      const event = new WebSocketCloseEvent('close', { code, reason, wasClean: code !== 1006 });
      return channel.context.events.onClose?.(event, socketOf(channel));
    },
    onError: (error, channel) => {
      channel.context.events.onError?.(new WebSocketErrorEvent('error', error), socketOf(channel));
    },
  });
}

/** Hono's `WSContext` over a channel: what `send`, `close` and `readyState` mean there. */
class ChannelSocketInit implements WSContextInit<HonoChannel> {
  readonly raw: EventsChannel;
  readonly url: string;
  readonly protocol: string;

  constructor(channel: EventsChannel) {
    this.raw = channel;
    this.url = channel.context.url;
    this.protocol = channel.protocol;
  }

  get readyState(): WSReadyState {
    return READY_STATES[this.raw.state];
  }

  // Hono's send is synchronous: through the lane without a promise, dropped once closing.
  send(data: string | ArrayBuffer | Uint8Array<ArrayBuffer>): void {
    this.raw.trySend(data);
  }

  close(code?: number, reason?: string): void {
    void this.raw.close(code, reason);
  }
}

function socketOf(channel: EventsChannel): HonoWebSocket {
  channel.context.socket ??= new WSContext<HonoChannel>(new ChannelSocketInit(channel));
  return channel.context.socket;
}

/** Text as a string; binary as a copied ArrayBuffer (Hono's default `binaryType`) or a Blob. */
function toMessageData(message: RawMessage, binaryType: string): string | ArrayBuffer | Blob {
  if (typeof message === 'string') return message;
  const bytes = new Uint8Array(message).buffer;
  return binaryType === 'blob' ? new Blob([bytes]) : bytes;
}
