import { ChannelClosedError } from './errors.js';
import { monotonicNow } from './internal/monotonic.js';
import { quiet } from './internal/settle.js';

/**
 * How a channel ends, from the moment closing starts: made then, so an open channel holds none
 * of it. The first close wins (ours or the peer's); the wire code is what the socket closed with.
 */
export class ChannelEnding {
  /** Monotonic ms: the close-handshake deadline runs from here. */
  readonly closingAt: number = monotonicNow();
  /** The code of the close that won: what the signal and rejected sends carry. */
  readonly code: number;
  readonly reason: string;
  /** The connection's close code on the wire (RFC 6455 §7.1.5; 1006 without a close frame). */
  wireCode = 1005;
  wireReason = '';
  /** onClose ran, or is running. */
  onCloseDone = false;
  #closed: Promise<void> | undefined;
  #resolveClosed: (() => void) | undefined;

  constructor(code: number, reason: string) {
    this.code = code;
    this.reason = reason;
  }

  /** Settles once {@link socketClosed} is called; made on first call. */
  whenClosed(): Promise<void> {
    this.#closed ??= quiet(
      new Promise<void>((resolve) => {
        this.#resolveClosed = resolve;
      }),
    );
    return this.#closed;
  }

  /** The socket is gone, with `code` and `reason` on the wire. */
  socketClosed(code: number, reason: string): void {
    this.wireCode = code;
    this.wireReason = reason;
    this.#resolveClosed?.();
  }

  toError(): ChannelClosedError {
    return new ChannelClosedError(this.code, this.reason);
  }
}
