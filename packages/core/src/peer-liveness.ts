import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { monotonicNow } from './internal/monotonic.js';

/**
 * What a channel knows of its peer being alive, for the idle and heartbeat deadlines: when it
 * last heard a frame (data or not), the outstanding ping, and the bytes of a message still
 * arriving. A base class of the channel rather than an object it holds: these fields sit in the
 * channel itself, not one object more per connection.
 */
export abstract class PeerLiveness {
  /** Monotonic ms (see internal/monotonic.ts): every deadline of the channel is measured on it. */
  readonly openedAt: number = monotonicNow();
  /** Last inbound frame of any kind: data, ping or pong. */
  lastInboundAt: number = this.openedAt;
  /** Last inbound data frame (what `idle` measures). */
  lastDataAt: number = this.openedAt;
  /** When the outstanding ping was flushed; negated while it waits to leave; 0 = none. */
  #pingAt = 0;
  /** The connection's socket (what ws writes to and reads from). */
  protected readonly socket: Duplex;
  /** The socket's bytes read as of the last tick. */
  #bytesRead: number;
  /** Wire bytes of the whole frames (messages, pings, pongs) ws reported since the last tick. */
  #framedBytes = 0;

  constructor(socket: Duplex) {
    this.socket = socket;
    this.#bytesRead = bytesReadOf(socket);
  }

  /** For the deadline check: when the outstanding ping left (0 = none; "now" while queued). */
  get pingSentAt(): number {
    return this.#pingAt < 0 ? monotonicNow() : this.#pingAt;
  }

  /** Sends the heartbeat's ping. */
  protected sendPing(ws: WebSocket, now: number): void {
    this.#pingAt = -now;
    // The pong deadline runs from when the ping left, not from when it queued behind a big send
    // (a socket that never flushes is the send-stall deadline's to end).
    ws.ping(undefined, undefined, () => {
      if (this.#pingAt === -now) this.#pingAt = monotonicNow();
    });
  }

  /** A message frame of `payload` bytes arrived. */
  protected heardData(payload: number, now: number): void {
    this.lastDataAt = now;
    this.heardLife(payload, now);
  }

  /** A ping or pong: life, but not data (idle runs on). */
  protected heardLife(payload: number, now: number): void {
    this.lastInboundAt = now;
    this.#pingAt = 0;
    this.#framedBytes += clientFrameBytes(payload);
  }

  /** Reads resume after our own backpressure paused them: the peer was not heard meanwhile. */
  protected restartClocks(): void {
    this.lastInboundAt = monotonicNow();
    this.lastDataAt = this.lastInboundAt;
    this.#pingAt = 0;
  }

  /**
   * ws reports whole frames only. Bytes read since the last tick beyond the whole frames it
   * reported are a message still arriving (a big or slow one): the peer is alive and not idle.
   * Counted per tick rather than per socket read, so a channel adds no listener to its socket.
   */
  protected noticeArrivingMessage(now: number, open: boolean): void {
    const read = bytesReadOf(this.socket);
    const unframed = read - this.#bytesRead - this.#framedBytes;
    this.#bytesRead = read;
    this.#framedBytes = 0;
    if (unframed <= 0 || !open) return;
    this.lastInboundAt = now;
    this.lastDataAt = now;
    this.#pingAt = 0;
  }
}

/**
 * Bytes a client's frame of `payload` bytes takes on the wire: header, mask key (clients always
 * mask, RFC 6455 §5.3) and payload. A fragmented message takes more; the surplus reads as a
 * message arriving, which it was.
 */
function clientFrameBytes(payload: number): number {
  return payload + 6 + (payload > 0xffff ? 8 : payload > 125 ? 2 : 0);
}

/** A `net.Socket`'s (or TLS socket's cleartext) byte count; 0 for a stream that keeps none. */
function bytesReadOf(socket: Duplex): number {
  return (socket as { bytesRead?: number }).bytesRead ?? 0;
}
