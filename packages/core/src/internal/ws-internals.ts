import type { WebSocket } from 'ws';

/**
 * What wslane reads of `ws`'s private fields, all in one place: the pinned ws version keeps them,
 * and a ws upgrade is checked against this file.
 */
interface WsPrivateFields {
  _closeFrameReceived?: boolean;
  _closeCode?: number;
  _pendingAutoPongs?: number;
  _maxPendingAutoPongs?: number;
}

/**
 * The close code of a connection the peer ended before ws reported it closed: the code of the
 * peer's close frame (1005 when it carried none), or 1006 when no close frame came (a reset).
 */
export function peerCloseCode(ws: WebSocket): number {
  const peer = ws as unknown as WsPrivateFields;
  return peer._closeFrameReceived === true ? (peer._closeCode ?? 1005) : 1006;
}

/** ws's own count of unflushed automatic pongs has reached its limit. */
export function pongLimitReached(ws: WebSocket): boolean {
  const counts = ws as unknown as WsPrivateFields;
  const max = counts._maxPendingAutoPongs ?? 0;
  return max > 0 && (counts._pendingAutoPongs ?? 0) >= max;
}
