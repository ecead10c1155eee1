import * as wsExports from 'ws';
import { monotonicNow } from './internal/monotonic.js';

/** The parts of a `ws` WebSocket the lane writes through. */
export interface LaneSocket {
  /** Bytes handed to the socket and not yet flushed to the kernel. */
  readonly bufferedAmount: number;
  /** ws's `readyState` (1 = open); a shared frame is written raw only while it is 1. */
  readonly readyState?: number;
  /** Without `cb` ws writes without asking the socket to report back (no tick per write). */
  send(data: Buffer | string, options: SendFrameOptions, cb?: (error?: Error) => void): void;
}

/** Frame flags for {@link LaneSocket.send}. */
export interface SendFrameOptions {
  readonly binary: boolean;
  readonly fin: boolean;
  readonly compress: boolean;
}

/**
 * Something that can hold writes back and flush them as one (a `net.Socket`). With `write`, the
 * lane can also hand it a frame that was built once for many sockets (a broadcast).
 */
export interface Corkable {
  cork(): void;
  uncork(): void;
  write?(frame: Buffer, cb?: (error?: Error | null) => void): boolean;
}

/**
 * A message framed once for many lanes: its payload, and the whole WebSocket frame (header and
 * payload, unmasked, final) that a lane may write straight to its socket.
 */
export interface SharedFrame {
  readonly data: Buffer;
  readonly binary: boolean;
  readonly frame: Buffer;
}

const FRAME_OPTIONS: readonly SendFrameOptions[] = [
  { binary: false, fin: false, compress: false },
  { binary: false, fin: true, compress: false },
  { binary: true, fin: false, compress: false },
  { binary: true, fin: true, compress: false },
];

/** Shared flag objects, so a write allocates no options object. */
export function frameOptions(binary: boolean, fin: boolean): SendFrameOptions {
  return FRAME_OPTIONS[(binary ? 2 : 0) + (fin ? 1 : 0)] as SendFrameOptions;
}

interface SenderFrameOptions {
  readonly fin: boolean;
  readonly opcode: number;
  readonly mask: boolean;
  readonly readOnly: boolean;
  readonly rsv1: boolean;
}

/** ws's own frame builder (a named export of its ESM entry; @types/ws does not declare it). */
const { Sender } = wsExports as unknown as {
  readonly Sender: { frame(data: Buffer, options: SenderFrameOptions): Buffer[] };
};

const TEXT_FRAME: SenderFrameOptions = {
  fin: true,
  opcode: 1,
  mask: false,
  readOnly: false,
  rsv1: false,
};
const BINARY_FRAME: SenderFrameOptions = {
  fin: true,
  opcode: 2,
  mask: false,
  readOnly: false,
  rsv1: false,
};

/**
 * Frames `data` once, with ws's `Sender.frame`, as the single unmasked frame a server sends, so a
 * broadcast hands every member the same bytes instead of framing the message again per socket.
 */
export function toSharedFrame(data: Buffer, binary: boolean): SharedFrame {
  const parts = Sender.frame(data, binary ? BINARY_FRAME : TEXT_FRAME);
  return { data, binary, frame: parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts) };
}

const EMPTY = Buffer.alloc(0);

/** {@link LaneOutput} state bits. */
const TRACKED = 1;
const CORKED = 2;
const SCHEDULED = 4;
/** Someone waits for the socket to drain (a queued entry, a stream's next frame). */
const EXPECTING = 8;
/** Something was written since the last {@link LaneOutput.wroteSinceLastCheck}. */
const WROTE = 16;

/**
 * How a lane's writes reach its socket; the lane (SerializedWriter) extends it, so a channel's
 * outbound side is one object. Writes of one tick leave as one socket write: the socket is corked
 * on the first write and uncorked once at the end of the tick (one `nextTick` for all lanes). A
 * lone shared frame (a broadcast) needs no cork: it is held to the end of the tick and written as
 * it is. With a raw socket (`Corkable.write`) no write carries a callback: when bytes stay in the
 * socket after a tick, a zero-length write behind them reports when they are flushed, so a
 * healthy socket costs no callback at all. Without one, every write reports back (tests' fake
 * sockets).
 */
export abstract class LaneOutput {
  /** When bytes started waiting in the socket while none had been (monotonic ms); 0 = never. */
  protected waitingSince = 0;
  protected readonly socket: LaneSocket;
  readonly #raw: Corkable | undefined;
  #flags: number;
  /** The callback of writes and probes, created with the first one that needs it. */
  #onProgress: (() => void) | undefined;
  #held: Buffer | undefined;
  #probes = 0;

  constructor(socket: LaneSocket, raw: Corkable | undefined) {
    this.socket = socket;
    this.#raw = raw;
    this.#flags = raw?.write === undefined ? 0 : TRACKED;
  }

  /** The socket flushed some of this lane's writes (or took them all at once). */
  protected abstract onSocketProgress(): void;

  /** Bytes handed over and not yet flushed to the kernel (a held frame included). */
  protected get bufferedAmount(): number {
    const held = this.#held;
    return held === undefined
      ? this.socket.bufferedAmount
      : this.socket.bufferedAmount + held.length;
  }

  /** One frame of a message, framed by ws. */
  protected sendFrame(data: Buffer | string, binary: boolean, fin: boolean): void {
    this.#flags |= WROTE;
    this.cork();
    this.socket.send(
      data,
      frameOptions(binary, fin),
      this.#flags & TRACKED ? undefined : this.callback(),
    );
  }

  /** A message framed once for many lanes: its frame goes to the socket as it is. */
  protected sendShared(shared: SharedFrame): void {
    this.#flags |= WROTE;
    const raw = this.#raw;
    // After ws sent its close frame its send refuses data; a raw frame would follow the close.
    if ((this.#flags & TRACKED) === 0 || raw === undefined || this.socket.readyState !== 1) {
      this.sendFrame(shared.data, shared.binary, true);
    } else if (this.#flags & CORKED) {
      raw.write?.(shared.frame);
    } else if (this.#held === undefined) {
      this.#held = shared.frame;
      this.schedule();
    } else {
      this.cork();
      raw.write?.(shared.frame);
    }
  }

  /** Something waits for the socket to drain: make sure the next flush will be reported. */
  protected expectProgress(): void {
    if ((this.#flags & TRACKED) === 0) return;
    this.#flags |= EXPECTING;
    // A write of this tick reports at the end of the tick; otherwise a probe must be out.
    if (this.#probes === 0 && (this.#flags & SCHEDULED) === 0 && this.socket.bufferedAmount > 0) {
      this.probe();
    }
  }

  /** Whether anything was written since the last call; each call starts a new span. */
  protected wroteSinceLastCheck(): boolean {
    const wrote = (this.#flags & WROTE) !== 0;
    this.#flags &= ~WROTE;
    return wrote;
  }

  /** Nothing held, corked, scheduled or probed, and the socket's buffer is empty. */
  protected get settledOutput(): boolean {
    return (
      (this.#flags & (CORKED | SCHEDULED | EXPECTING)) === 0 &&
      this.#held === undefined &&
      this.#probes === 0 &&
      this.socket.bufferedAmount === 0
    );
  }

  /** What this tick held back goes to the socket now, ahead of a close frame. */
  protected flushHeld(): void {
    const held = this.#held;
    if (held === undefined) return;
    this.#held = undefined;
    if (this.socket.readyState === 1) this.#raw?.write?.(held);
  }

  /** @internal End of the tick: this tick's writes leave as one socket write. */
  endTick(): void {
    const flags = this.#flags;
    this.#flags = flags & ~(SCHEDULED | CORKED);
    if (flags & CORKED) this.#raw?.uncork();
    else this.flushHeld();
    if ((flags & TRACKED) === 0) return;
    if (this.socket.bufferedAmount > 0) {
      this.probe();
    } else if (this.#flags & EXPECTING) {
      // The kernel took it all at once: whoever waits can go on now.
      this.#flags &= ~EXPECTING;
      this.onSocketProgress();
    }
  }

  private cork(): void {
    const raw = this.#raw;
    if (this.#flags & CORKED || raw === undefined) return;
    this.#flags |= CORKED;
    raw.cork();
    const held = this.#held;
    if (held !== undefined) {
      this.#held = undefined;
      raw.write?.(held);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.#flags & SCHEDULED) return;
    this.#flags |= SCHEDULED;
    if (pendingOutputs.push(this) === 1) process.nextTick(endTickOfAll);
  }

  /** A zero-length write behind the bytes waiting: its callback says they were flushed. */
  private probe(): void {
    // Past OPEN nobody waits on the lane any more, and ws may have ended the socket: a write
    // after its end would be an error.
    if (this.socket.readyState !== 1) return;
    if (this.#probes++ === 0) this.waitingSince = monotonicNow();
    this.#raw?.write?.(EMPTY, this.callback());
  }

  private callback(): () => void {
    this.#onProgress ??= () => {
      if (this.#flags & TRACKED) {
        this.#probes--;
        this.#flags &= ~EXPECTING;
      }
      this.onSocketProgress();
    };
    return this.#onProgress;
  }
}

/** Outputs written to in this tick; one `nextTick` ends the tick for all of them. */
let pendingOutputs: LaneOutput[] = [];

function endTickOfAll(): void {
  const outputs = pendingOutputs;
  pendingOutputs = [];
  for (const output of outputs) output.endTick();
}
