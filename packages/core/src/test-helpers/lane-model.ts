import { Buffer } from 'node:buffer';
import { expect } from 'vitest';
import { ChannelClosedError, isWslaneError, type WslaneError } from '../errors.js';
import { createDeferred, type Deferred } from '../internal/settle.js';
import { SerializedWriter, type WriterLimits } from '../serialized-writer.js';
import { type BufferedFrame, FakeLaneSocket, type Frame } from './fake-lane-socket.js';
import {
  type Command,
  checkOutcome,
  createEntry,
  type Entry,
  type ExpectedFrame,
  expectedStreamFrames,
  gatedSource,
  type MessageVia,
  observe,
  type Prediction,
  predictAdmission,
  type Scenario,
  sumBytes,
} from './lane-model-rules.js';
import { type Outcome, settle, track } from './serialized-writer-harness.js';

/**
 * A reference model of the lane, checked against the writer after every step. It predicts every
 * admission verdict and every drop, and it reads the socket's frame log to follow the writes:
 * each frame must be the next frame of the oldest unfinished call.
 */
export class LaneModel {
  // Records the buffer around each frame: #reconcile checks every write against both readings.
  readonly socket = new FakeLaneSocket({ recordBuffered: true });
  readonly writer: SerializedWriter;
  readonly entries: Entry[] = [];
  readonly ends: { readonly current: Outcome<void> }[] = [];
  readonly brokenReports: WslaneError[] = [];
  readonly overflowAbortError = new ChannelClosedError(1013);
  lane: Entry[] = [];
  state: 'open' | 'ending' | 'closed' = 'open';
  closedError: ChannelClosedError | undefined;
  dropped = 0;
  overflows = 0;
  expectedOverflows = 0;
  expectedBroken = 0;
  /** Index in the frame log from which no frame may exist (the lane was aborted there). */
  closedAtFrame = Number.POSITIVE_INFINITY;
  readonly #limits: WriterLimits;
  readonly #highWaterMark: number;
  readonly #abortOnOverflow: boolean;
  #nextId = 0;
  #framesSeen = 0;
  #settleStartFrame = 0;
  #settleStartBuffered = 0;

  constructor(scenario: Scenario) {
    this.#limits = scenario.limits;
    this.#highWaterMark = Math.max(1, scenario.limits.highWaterMark);
    this.#abortOnOverflow = scenario.abortOnOverflow;
    this.writer = new SerializedWriter(this.socket, scenario.limits, {
      onOverflow: () => {
        this.overflows++;
        if (this.#abortOnOverflow) {
          this.closedAtFrame = Math.min(this.closedAtFrame, this.socket.frames.length);
          this.writer.abort(this.overflowAbortError);
        }
      },
      onStreamBroken: (error) => {
        this.closedAtFrame = Math.min(this.closedAtFrame, this.socket.frames.length);
        this.brokenReports.push(error);
      },
    });
  }

  get laneBytes(): number {
    return sumBytes(this.lane);
  }

  async step(command: Command): Promise<void> {
    switch (command.kind) {
      case 'send':
      case 'trySend':
      case 'offer':
        this.#message(command.kind, command.pad, command.binary);
        break;
      case 'stream':
        this.#stream(command);
        break;
      case 'release':
        this.#release(command.fail);
        break;
      case 'flush':
        this.socket.flush(command.count);
        break;
      case 'end': {
        this.ends.push(track(this.writer.end()));
        if (this.state === 'open') this.state = 'ending';
        break;
      }
      case 'abort': {
        const error = new ChannelClosedError(1006);
        if (this.state !== 'closed') this.closedAtFrame = this.socket.frames.length;
        this.writer.abort(error);
        this.#applyAbort(error, error);
        break;
      }
    }
    this.#settleStartFrame = this.socket.frames.length;
    this.#settleStartBuffered = this.socket.bufferedAmount;
    await settle();
    this.#reconcile();
    this.check();
  }

  /** Flushes the socket until nothing moves, then checks that every call got its final answer. */
  async finish(): Promise<void> {
    for (const entry of this.entries) {
      while (entry.gatesOpened < entry.gates.length) entry.gates[entry.gatesOpened++]?.resolve();
    }
    for (let round = 0; round < 500; round++) {
      this.socket.flush();
      this.#settleStartFrame = this.socket.frames.length;
      this.#settleStartBuffered = this.socket.bufferedAmount;
      await settle();
      this.#reconcile();
      this.check();
      if (this.socket.pendingWrites === 0) break;
    }
    expect(this.socket.pendingWrites).toBe(0);
    if (this.state !== 'closed') expect(this.lane.map((entry) => entry.id)).toEqual([]);
    for (const entry of this.entries) {
      expect(entry.fate).not.toBe('queued');
      if (entry.outcome !== undefined) expect(entry.outcome.state).not.toBe('pending');
    }
    await expect(this.writer.end()).resolves.toBeUndefined();
    for (const end of this.ends) expect(end.current.state).toBe('fulfilled');
    this.writer.abort(new ChannelClosedError(1000));
    expect(this.writer.isClosed).toBe(true);
    expect(this.writer.trySend('late', false)).toBe(false);
  }

  check(): void {
    const { writer, socket } = this;
    const frames = socket.frames;
    expect(writer.messagesOut).toBe(frames.filter((frame) => frame.fin).length);
    expect(writer.bytesOut).toBe(
      frames.reduce((total, frame) => total + Buffer.byteLength(frame.data), 0),
    );
    expect(writer.dropped).toBe(this.dropped);
    expect(this.overflows).toBe(this.expectedOverflows);
    expect(writer.isClosed).toBe(this.state !== 'open');
    expect(this.brokenReports).toHaveLength(this.expectedBroken);
    expect(writer.queuedBytes).toBe(this.laneBytes + socket.bufferedAmount);
    expect(writer.queuedBytes).toBeLessThanOrEqual(this.#limits.maxBufferedBytes);
    expect(frames.length).toBeLessThanOrEqual(this.closedAtFrame);
    const head = this.lane[0];
    if (this.state !== 'closed' && head !== undefined) {
      // Liveness: a non-empty lane only waits on the socket or on a stream source, never on nothing.
      const waitsOnSource = head.gatesOpened < head.gates.length;
      if (!waitsOnSource) {
        expect(socket.bufferedAmount).toBeGreaterThanOrEqual(this.#highWaterMark);
      }
    }
    for (const entry of this.entries) checkOutcome(entry);
    const idle = this.state === 'closed' || this.lane.length === 0;
    for (const end of this.ends) expect(end.current.state).toBe(idle ? 'fulfilled' : 'pending');
  }

  #message(via: MessageVia, pad: number, binary: boolean): void {
    const id = this.#nextId++;
    const text = `m${id}:${'x'.repeat(pad)}`;
    const data = binary ? Buffer.from(text) : text;
    const bytes = Buffer.byteLength(text);
    const entry = this.#entry(id, via, [{ bytes: Buffer.from(text), binary, fin: true }], bytes);
    const { verdict, drops } = this.#predict(bytes);
    const framesBefore = this.socket.frames.length;

    if (via === 'send') observe(entry, this.writer.send(data, binary));
    else if (via === 'trySend') {
      expect(this.writer.trySend(data, binary)).toBe(verdict === 'written' || verdict === 'queued');
    } else {
      expect(this.writer.offer(data, binary)).toBe(verdict === 'overflow' ? 'closed' : verdict);
    }

    for (const old of drops) this.#drop(old);
    switch (verdict) {
      case 'written':
      case 'queued':
        this.lane.push(entry);
        expect(this.socket.frames.length - framesBefore).toBe(verdict === 'written' ? 1 : 0);
        break;
      case 'dropped':
        this.#drop(entry);
        break;
      case 'rejected':
        this.#reject(entry, 'WSLANE_QUEUE_FULL');
        break;
      case 'closed':
        this.#reject(entry, this.closedError ?? 'WSLANE_CHANNEL_CLOSED');
        break;
      case 'overflow':
        this.expectedOverflows++;
        if (this.#abortOnOverflow) {
          this.#applyAbort(this.overflowAbortError, this.overflowAbortError);
          this.#reject(entry, this.overflowAbortError);
        } else {
          this.#reject(entry, 'WSLANE_CHANNEL_CLOSED');
        }
        break;
    }
  }

  #stream({ pads, binary, text, gated }: Extract<Command, { kind: 'stream' }>): void {
    const id = this.#nextId++;
    const chunks = pads.map((pad, index) => {
      const chunk = `s${id}.${index}:${'y'.repeat(pad)}`;
      return text ? chunk : new Uint8Array(Buffer.from(chunk));
    });
    const frames = expectedStreamFrames(chunks, binary);
    const gates = gated
      ? Array.from({ length: chunks.length + 1 }, () => createDeferred<void>())
      : [];
    const entry = this.#entry(id, 'stream', frames, 0, gates);
    const source = gated ? gatedSource(chunks, gates) : chunks;
    observe(entry, this.writer.sendStream(source, binary === undefined ? undefined : { binary }));
    if (this.state === 'open') this.lane.push(entry);
    else this.#reject(entry, this.closedError ?? 'WSLANE_CHANNEL_CLOSED');
  }

  /** Opens (or fails) the next gate of the oldest gated stream that still has one. */
  #release(fail: boolean): void {
    const entry = this.entries.find((candidate) => candidate.gatesOpened < candidate.gates.length);
    if (entry === undefined) return;
    const gate = entry.gates[entry.gatesOpened++];
    if (fail) {
      entry.sourceFailed = true;
      gate?.reject(new Error('source failed'));
    } else {
      gate?.resolve();
    }
  }

  #entry(
    id: number,
    via: Entry['via'],
    frames: ExpectedFrame[],
    bytes: number,
    gates: readonly Deferred<void>[] = [],
  ): Entry {
    const entry = createEntry(id, via, frames, bytes, gates);
    this.entries.push(entry);
    return entry;
  }

  /** The admission rule of the spec, computed from the model's own lane and the socket's buffer. */
  #predict(bytes: number): Prediction {
    if (this.state !== 'open') return { verdict: 'closed', drops: [] };
    const buffered = this.socket.bufferedAmount;
    const lane = {
      lane: this.lane,
      buffered,
      limits: this.#limits,
      highWaterMark: this.#highWaterMark,
    };
    return predictAdmission(lane, bytes);
  }

  #drop(entry: Entry): void {
    entry.fate = 'dropped';
    this.dropped++;
    this.lane = this.lane.filter((queued) => queued !== entry);
  }

  #reject(entry: Entry, expectedError: unknown): void {
    entry.fate = 'rejected';
    entry.expectedError = expectedError;
    this.lane = this.lane.filter((queued) => queued !== entry);
  }

  #applyAbort(error: ChannelClosedError | undefined, expectedError: unknown): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closedError = error;
    for (const entry of this.lane) this.#reject(entry, expectedError);
    this.lane = [];
  }

  /** Walks the frames written since the last step: each must continue the oldest call. */
  #reconcile(): void {
    const frames = this.socket.frames;
    while (this.#framesSeen < frames.length) {
      const index = this.#framesSeen++;
      const frame = frames[index] as BufferedFrame;
      this.#retireFailedStreams(index, frame);
      const head = this.lane[0];
      expect(head, `frame ${index} was written with nothing queued`).toBeDefined();
      if (head === undefined) return;
      const expected = head.frames[head.framesWritten];
      expect(expected, `frame ${index} goes past the end of call ${head.id}`).toBeDefined();
      expect({
        id: head.id,
        bytes: Buffer.from(frame.data).toString('hex'),
        binary: frame.binary,
        fin: frame.fin,
      }).toEqual({
        id: head.id,
        bytes: expected?.bytes.toString('hex'),
        binary: expected?.binary,
        fin: expected?.fin,
      });
      // Every write waits for the socket to be under highWaterMark and keeps the byte bound.
      expect(frame.bufferedBefore).toBeLessThan(this.#highWaterMark);
      const laneAfter = this.laneBytes - (frame.fin ? head.bytes : 0);
      expect(laneAfter + frame.bufferedAfter).toBeLessThanOrEqual(this.#limits.maxBufferedBytes);
      head.framesWritten++;
      if (frame.fin) {
        head.fate = 'written';
        this.lane.shift();
      }
    }
    this.#retireFailedStreams(frames.length);
  }

  /**
   * A stream at the head of the lane that rejected while the lane was open either lost its source
   * or failed on its next frame because that frame would have passed `maxBufferedBytes`.
   */
  #retireFailedStreams(frameIndex: number, next?: Frame): void {
    for (;;) {
      const head = this.lane[0];
      if (head?.via !== 'stream' || head.outcome?.state !== 'rejected') return;
      const error = head.outcome.error;
      const failed = head.frames[head.framesWritten] as ExpectedFrame;
      // A rejected stream never wrote its final frame; any earlier frame carries a unique marker.
      if (next !== undefined && !failed.fin && failed.bytes.equals(Buffer.from(next.data))) return;
      if (isWslaneError(error) && error.code === 'WSLANE_STREAM_FAILED') {
        expect(head.sourceFailed, `stream ${head.id} failed without a source error`).toBe(true);
        if (this.#retire(head, error)) return;
        continue;
      }
      const buffered =
        frameIndex > this.#settleStartFrame
          ? (this.socket.frames[frameIndex - 1] as BufferedFrame).bufferedAfter
          : this.#settleStartBuffered;
      const laneBehind = this.laneBytes;
      expect(buffered).toBeLessThan(this.#highWaterMark);
      expect(laneBehind + buffered + failed.bytes.length).toBeGreaterThan(
        this.#limits.maxBufferedBytes,
      );
      if (this.#limits.overflow === 'close') this.expectedOverflows++;
      if (this.#limits.overflow === 'close' && this.#abortOnOverflow) {
        expect(error).toBe(this.overflowAbortError);
        this.#applyAbort(this.overflowAbortError, this.overflowAbortError);
        return;
      }
      expect(error).toMatchObject({ code: 'WSLANE_QUEUE_FULL' });
      if (this.#retire(head, error)) return;
    }
  }

  /** Takes a failed stream off the lane; true when it broke the lane (frames were written). */
  #retire(head: Entry, error: unknown): boolean {
    this.#reject(head, error);
    if (head.framesWritten === 0) return false;
    // The peer holds half a message: the lane must close and report it.
    expect(this.brokenReports.at(-1)).toBe(error);
    this.expectedBroken++;
    this.#applyAbort(undefined, 'WSLANE_CHANNEL_CLOSED');
    return true;
  }
}
