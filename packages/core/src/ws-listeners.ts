import type { WebSocket } from 'ws';

/** What the ws listeners shared by every channel call on the channel a socket belongs to. */
export interface WsEventSink {
  onWsMessage(data: Buffer, isBinary: boolean): void;
  /** A pong. */
  onWsPong(data: Buffer): void;
  onWsPing(data: Buffer): void;
  onWsError(error: Error): void;
  onWsClose(code: number, reason: Buffer): void;
}

/** Where a channel's ws points back to it, for the shared listeners. */
const OWNER: unique symbol = Symbol('wslane.channel');

interface Owned {
  [OWNER]?: WsEventSink | undefined;
}

/**
 * Routes `ws`'s events to `sink` through listeners every channel shares: a channel costs no
 * closure per event.
 */
export function listenTo(ws: WebSocket, sink: WsEventSink): void {
  (ws as Owned)[OWNER] = sink;
  ws.on('message', onMessage);
  ws.on('pong', onPong);
  ws.on('ping', onPing);
  ws.on('error', onError);
  ws.on('close', onClose);
}

/**
 * Stops routing once the socket closed. The 'error' listener stays: a late socket error must not
 * become an uncaught exception.
 */
export function stopListening(ws: WebSocket): void {
  ws.off('message', onMessage);
  ws.off('pong', onPong);
  ws.off('ping', onPing);
  ws.off('close', onClose);
}

function onMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
  (this as Owned)[OWNER]?.onWsMessage(data, isBinary);
}

function onPong(this: WebSocket, data: Buffer): void {
  (this as Owned)[OWNER]?.onWsPong(data);
}

function onPing(this: WebSocket, data: Buffer): void {
  (this as Owned)[OWNER]?.onWsPing(data);
}

function onError(this: WebSocket, error: Error): void {
  (this as Owned)[OWNER]?.onWsError(error);
}

function onClose(this: WebSocket, code: number, reason: Buffer): void {
  (this as Owned)[OWNER]?.onWsClose(code, reason);
}
