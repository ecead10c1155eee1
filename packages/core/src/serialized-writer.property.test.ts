import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OverflowPolicy } from './config.js';
import { ChannelClosedError, isWslaneError, type WslaneError } from './errors.js';
import { createDeferred, type Deferred } from './internal/settle.js';
import { SerializedWriter, type WriterLimits } from './serialized-writer.js';
import { type BufferedFrame, FakeLaneSocket, type Frame } from './test-helpers/fake-lane-socket.js';

const NUM_RUNS = Number(process.env.WSLANE_PROPERTY_RUNS ?? 200);

type MessageVia = 'send' | 'trySend' | 'offer';

type Command =
  | { readonly kind: MessageVia; readonly pad: number; readonly binary: boolean }
  | {
      readonly kind: 'stream';
      readonly pads: readonly number[];
      readonly binary: boolean | undefined;
      readonly text: boolean;
      /** An async source that waits for a `release` before each chunk and before it ends. */
      readonly gated: boolean;
    }
  | { readonly kind: 'release'; readonly fail: boolean }
  | { readonly kind: 'flush'; readonly count: number }
  | { readonly kind: 'end' }
  | { readonly kind: 'abort' };

interface Scenario {
  readonly limits: WriterLimits;
  /** The channel aborts the lane from inside `onOverflow`, as a real channel closing with 1013 does. */
  readonly abortOnOverflow: boolean;
  readonly commands: readonly Command[];
}

type Outcome =
  | { readonly state: 'pending' }
  | { readonly state: 'fulfilled'; readonly value: unknown }
  | { readonly state: 'rejected'; readonly error: unknown };

interface ExpectedFrame {
  readonly bytes: Buffer;
  readonly binary: boolean;
  readonly fin: boolean;
}

/** What the model knows about one call. */
interface Entry {
  readonly id: number;
  readonly via: MessageVia | 'stream';
  readonly frames: readonly ExpectedFrame[];
  /** Bytes the lane accounts for while queued (0 for a stream). */
  readonly bytes: number;
  framesWritten: number;
  fate: 'queued' | 'written' | 'dropped' | 'rejected';
  /** Gates of a gated stream source, opened in order by `release` commands. */
  readonly gates: readonly Deferred<void>[];
  gatesOpened: number;
  sourceFailed: boolean;
  /** The exact error (an instance) or error code a rejected call must carry. */
  expectedError: unknown;
  outcome: Outcome | undefined;
}

type Admission = 'written' | 'queued' | 'dropped' | 'rejected' | 'closed' | 'overflow';

const openCommandArbitrary: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 16,
    arbitrary: fc.record({
      kind: fc.constantFrom<MessageVia>('send', 'trySend', 'offer'),
      pad: fc.nat({ max: 12 }),
      binary: fc.boolean(),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('stream' as const),
      pads: fc.array(fc.nat({ max: 6 }), { maxLength: 4 }),
      binary: fc.option(fc.boolean(), { nil: undefined }),
      text: fc.boolean(),
      gated: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('release' as const),
      fail: fc.nat({ max: 5 }).map((roll) => roll === 0),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('flush' as const),
      count: fc.integer({ min: 1, max: 4 }),
    }),
  },
);

const anyCommandArbitrary: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: openCommandArbitrary },
  { weight: 1, arbitrary: fc.constant({ kind: 'end' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'abort' as const }) },
);

const scenarioArbitrary: fc.Arbitrary<Scenario> = fc.record({
  limits: fc.record({
    highWaterMark: fc.integer({ min: 0, max: 16 }),
    maxBufferedBytes: fc.integer({ min: 1, max: 64 }),
    overflow: fc.constantFrom<OverflowPolicy>('close', 'drop-newest', 'drop-oldest', 'reject'),
  }),
  abortOnOverflow: fc.boolean(),
  // A busy stretch first, then a tail where end and abort may land among the other calls.
  commands: fc
    .tuple(
      fc.array(openCommandArbitrary, { minLength: 1, maxLength: 30, size: 'max' }),
      fc.array(anyCommandArbitrary, { maxLength: 10, size: 'max' }),
    )
    .map(([busy, tail]) => [...busy, ...tail]),
});

async function* gatedSource(
  chunks: readonly (string | Uint8Array)[],
  gates: readonly Deferred<void>[],
): AsyncGenerator<string | Uint8Array> {
  for (const [index, chunk] of chunks.entries()) {
    await gates[index]?.promise;
    yield chunk;
  }
  await gates[chunks.length]?.promise;
}

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function observe(entry: Entry, promise: Promise<unknown>): void {
  entry.outcome = { state: 'pending' };
  promise.then(
    (value) => {
      entry.outcome = { state: 'fulfilled', value };
    },
    (error: unknown) => {
      entry.outcome = { state: 'rejected', error };
    },
  );
}

function sumBytes(entries: readonly Entry[]): number {
  return entries.reduce((total, entry) => total + entry.bytes, 0);
}

/**
 * A reference model of the lane, checked against the writer after every step. It predicts every
 * admission verdict and every drop, and it reads the socket's frame log to follow the writes:
 * each frame must be the next frame of the oldest unfinished call.
 */
class LaneModel {
  // Records the buffer around each frame: #reconcile checks every write against both readings.
  readonly socket = new FakeLaneSocket({ recordBuffered: true });
  readonly writer: SerializedWriter;
  readonly entries: Entry[] = [];
  readonly ends: { outcome: Outcome }[] = [];
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
        const end: { outcome: Outcome } = { outcome: { state: 'pending' } };
        this.writer.end().then(
          () => {
            end.outcome = { state: 'fulfilled', value: undefined };
          },
          (error: unknown) => {
            end.outcome = { state: 'rejected', error };
          },
        );
        this.ends.push(end);
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
    for (const end of this.ends) expect(end.outcome.state).toBe('fulfilled');
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
    for (const entry of this.entries) this.#checkOutcome(entry);
    const idle = this.state === 'closed' || this.lane.length === 0;
    for (const end of this.ends) expect(end.outcome.state).toBe(idle ? 'fulfilled' : 'pending');
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
    const frameBinary = binary ?? (chunks.length === 0 || typeof chunks[0] !== 'string');
    const frames: ExpectedFrame[] =
      chunks.length === 0
        ? [{ bytes: Buffer.alloc(0), binary: frameBinary, fin: true }]
        : chunks.map((chunk, index) => ({
            bytes: Buffer.from(chunk),
            binary: frameBinary,
            fin: index === chunks.length - 1,
          }));
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
    const entry: Entry = {
      id,
      via,
      frames,
      bytes,
      framesWritten: 0,
      fate: 'queued',
      gates,
      gatesOpened: 0,
      sourceFailed: false,
      expectedError: undefined,
      outcome: undefined,
    };
    this.entries.push(entry);
    return entry;
  }

  /** The admission rule of the spec, computed from the model's own lane and the socket's buffer. */
  #predict(bytes: number): { verdict: Admission; drops: Entry[] } {
    if (this.state !== 'open') return { verdict: 'closed', drops: [] };
    const max = this.#limits.maxBufferedBytes;
    const buffered = this.socket.bufferedAmount;
    const total = this.laneBytes + buffered;
    const fastPath = (laneEmpty: boolean): Admission =>
      laneEmpty && buffered < this.#highWaterMark ? 'written' : 'queued';
    if (total + bytes <= max) return { verdict: fastPath(this.lane.length === 0), drops: [] };
    switch (this.#limits.overflow) {
      case 'drop-newest':
        return { verdict: 'dropped', drops: [] };
      case 'reject':
        return { verdict: 'rejected', drops: [] };
      case 'close':
        return { verdict: 'overflow', drops: [] };
      case 'drop-oldest': {
        const droppable = this.lane.filter((entry) => entry.via !== 'stream');
        // Dropping queued messages is only worth it when it lets the new one in.
        if (total - sumBytes(droppable) + bytes > max) return { verdict: 'dropped', drops: [] };
        const drops: Entry[] = [];
        let remaining = total;
        for (const entry of droppable) {
          if (remaining + bytes <= max) break;
          drops.push(entry);
          remaining -= entry.bytes;
        }
        return { verdict: fastPath(this.lane.length === drops.length), drops };
      }
    }
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

  #checkOutcome(entry: Entry): void {
    const outcome = entry.outcome;
    if (outcome === undefined) return;
    const label = `outcome of call ${entry.id} (${entry.via}, ${entry.fate})`;
    switch (entry.fate) {
      case 'queued':
        expect(outcome.state, label).toBe('pending');
        return;
      case 'written':
        expect(outcome, label).toEqual({
          state: 'fulfilled',
          value: entry.via === 'stream' ? undefined : true,
        });
        return;
      case 'dropped':
        expect(outcome, label).toEqual({ state: 'fulfilled', value: false });
        return;
      case 'rejected': {
        expect(outcome.state, label).toBe('rejected');
        const error = outcome.state === 'rejected' ? outcome.error : undefined;
        if (typeof entry.expectedError === 'string') {
          expect(error, label).toMatchObject({ code: entry.expectedError });
        } else {
          expect(error, label).toBe(entry.expectedError);
        }
      }
    }
  }
}

describe('SerializedWriter (model-based)', () => {
  it('keeps order, atomicity, byte bounds, counters and every promise answer under random interleavings', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArbitrary, async (scenario) => {
        const model = new LaneModel(scenario);
        for (const command of scenario.commands) await model.step(command);
        await model.finish();
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
