import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { ChannelConfig } from './config.js';
import type { WslaneError } from './errors.js';
import { PeerLiveness } from './peer-liveness.js';
import { type LaneCounters, SerializedWriter, type WriterHooks } from './serialized-writer.js';

/**
 * A channel's outbound lane, held only while the channel sends: made by the first send, dropped
 * once a whole clock tick passed without a write (its counters stay, and the next lane goes on
 * from them), so a quiet channel holds no lane. A base class of the channel, like
 * {@link PeerLiveness}: its fields sit in the channel itself.
 */
export abstract class LaneHolder extends PeerLiveness implements WriterHooks {
  abstract readonly config: ChannelConfig;
  protected readonly ws: WebSocket;
  #writer: SerializedWriter | undefined;
  /** What a dropped lane had counted, kept until the next lane takes it over. */
  #laneCounters: LaneCounters | undefined;

  constructor(ws: WebSocket, socket: Duplex) {
    super(socket);
    this.ws = ws;
  }

  abstract onOverflow(): void;
  abstract onStreamBroken(error: WslaneError): void;

  /** @internal Whether the channel holds an outbound lane right now (tests of the quiet drop). */
  get holdsLane(): boolean {
    return this.#writer !== undefined;
  }

  /** For the deadline check: bytes wait in the lane or the socket. */
  get sending(): boolean {
    return (this.#writer?.queuedBytes ?? 0) > 0;
  }

  get lastProgressAt(): number {
    return this.#writer?.lastProgressAt ?? this.openedAt;
  }

  /** The lane, if the channel holds one now. */
  protected get writer(): SerializedWriter | undefined {
    return this.#writer;
  }

  /** What the lanes of this channel counted so far. */
  protected get laneCounters(): LaneCounters | undefined {
    return this.#writer ?? this.#laneCounters;
  }

  /** The outbound lane, created with a message sent while there is none (call only while open). */
  protected lane(): SerializedWriter {
    if (this.#writer === undefined) {
      this.#writer = new SerializedWriter(
        this.ws,
        this.config.backpressure,
        this,
        this.socket,
        this.#laneCounters,
      );
      this.#laneCounters = undefined;
    }
    return this.#writer;
  }

  /** Shared-clock tick of an open channel: drops a lane that wrote nothing since the last one. */
  protected dropQuietLane(): void {
    const writer = this.#writer;
    if (writer?.quietSinceLastTick() !== true) return;
    this.#laneCounters = {
      messagesOut: writer.messagesOut,
      bytesOut: writer.bytesOut,
      dropped: writer.dropped,
    };
    this.#writer = undefined;
  }
}
