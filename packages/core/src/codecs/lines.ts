import { Buffer, isAscii, isUtf8 } from 'node:buffer';
import type { Codec, EncodedFrame, FrameDecoder } from '../codec.js';
import { DecodeError, WslaneError } from '../errors.js';
import { type SizeInput, toBytes } from '../internal/units.js';

/** Character encodings of the {@link lines} codec. */
export type LineEncoding = 'utf8' | 'latin1' | 'ascii';

/** Options of the {@link lines} codec. */
export interface LinesOptions {
  /**
   * What ends a record, encoded with `encoding`; any non-empty string, several characters allowed.
   *
   * @default '\r\n'
   */
  readonly terminator?: string;
  /**
   * Largest record in bytes, terminator not counted, both ways; bytes or a string like `"64kb"`.
   *
   * @default '1mb'
   */
  readonly maxLineBytes?: SizeInput;
  /**
   * How records are turned into bytes and back. `utf8` and `ascii` records are sent in text frames,
   * `latin1` records in binary frames (latin1 bytes are not valid UTF-8).
   *
   * @default 'utf8'
   */
  readonly encoding?: LineEncoding;
}

interface LinesConfig {
  readonly terminator: string;
  readonly terminatorBytes: Buffer;
  readonly maxLineBytes: number;
  readonly encoding: LineEncoding;
}

const ENCODINGS: ReadonlySet<string> = new Set<LineEncoding>(['utf8', 'latin1', 'ascii']);

/**
 * A stream of terminator-delimited text records carried in text or binary frames: a frame may hold
 * several records, and a record (or its terminator) may be split across frames. Records are
 * emitted without their terminator; `encode` appends it.
 *
 * Decoding throws {@link DecodeError} `WSLANE_MESSAGE_TOO_BIG` (close 1009) as soon as a record is
 * known to exceed `maxLineBytes`, and `WSLANE_CODEC_DECODE` (close 1007) for a record that is not
 * valid in `encoding`. After any throw the decoder holds nothing.
 *
 * @throws {WslaneError} `WSLANE_INVALID_ARGUMENT` for an empty terminator, a terminator that
 * `encoding` cannot represent, an unknown encoding or an invalid `maxLineBytes`; from `encode`,
 * `WSLANE_CODEC_ENCODE` for a record that contains the terminator, is over `maxLineBytes` or
 * cannot be represented in `encoding`.
 *
 * @example
 * ```ts
 * const codec = lines({ terminator: '\n', maxLineBytes: '64kb' });
 * ```
 */
export function lines(options: LinesOptions = {}): Codec<string, string> {
  const config = toLinesConfig(options);
  return {
    name: 'lines',
    encode: (record: string): EncodedFrame => encodeLine(record, config),
    createDecoder: (): FrameDecoder<string> => new LineDecoder(config),
  };
}

class LineDecoder implements FrameDecoder<string> {
  readonly #config: LinesConfig;
  /** The partial record, concatenated only once its terminator arrives. */
  #chunks: Buffer[] = [];
  #length = 0;

  constructor(config: LinesConfig) {
    this.#config = config;
  }

  decode(frame: Buffer, _isBinary: boolean, emit: (message: string) => void): void {
    try {
      this.#decodeFrame(frame, emit);
    } catch (error) {
      this.reset();
      throw error;
    }
  }

  reset(): void {
    this.#chunks = [];
    this.#length = 0;
  }

  #decodeFrame(frame: Buffer, emit: (message: string) => void): void {
    const terminator = this.#config.terminatorBytes;
    let start = 0;
    if (this.#length > 0) {
      // The buffer holds no whole terminator; only its end can start one, so nothing is rescanned.
      const split = this.#bufferedTerminatorStart(frame);
      if (split > 0) {
        this.#emitRecord(this.#takeBuffered(this.#length - split), emit);
        start = terminator.length - split;
      } else {
        const end = frame.indexOf(terminator);
        if (end === -1) {
          this.#append(frame);
          return;
        }
        this.#chunks.push(frame.subarray(0, end));
        this.#length += end;
        this.#emitRecord(this.#takeBuffered(this.#length), emit);
        start = end + terminator.length;
      }
    }
    for (let end = frame.indexOf(terminator, start); end !== -1; ) {
      this.#emitRecord(frame.subarray(start, end), emit);
      start = end + terminator.length;
      end = frame.indexOf(terminator, start);
    }
    if (start < frame.length) this.#append(frame.subarray(start));
  }

  #append(part: Buffer): void {
    // A short tail of a large frame would pin the whole frame's memory until the record ends.
    this.#chunks.push(part.length * 2 < part.buffer.byteLength ? Buffer.from(part) : part);
    this.#length += part.length;
    // Bytes that may begin the terminator are not yet proven to be record bytes.
    this.#checkRecordSize(this.#length - this.#bufferedTerminatorStart());
  }

  /**
   * How many bytes at the end of the buffer begin the terminator (the longest such end, as it
   * starts earliest); with `frame`, only counting a start that the frame completes. 0 for none.
   */
  #bufferedTerminatorStart(frame?: Buffer): number {
    const terminator = this.#config.terminatorBytes;
    const tail = this.#tail(terminator.length - 1);
    for (let k = tail.length; k > 0; k--) {
      const rest = terminator.length - k;
      if (
        tail.compare(terminator, 0, k, tail.length - k) === 0 &&
        (frame === undefined ||
          (frame.length >= rest && frame.compare(terminator, k, terminator.length, 0, rest) === 0))
      ) {
        return k;
      }
    }
    return 0;
  }

  /** A copy of the last `size` buffered bytes (fewer when less is buffered). */
  #tail(size: number): Buffer {
    const tail = Buffer.allocUnsafe(Math.min(size, this.#length));
    let missing = tail.length;
    for (let i = this.#chunks.length - 1; i >= 0 && missing > 0; i--) {
      const chunk = this.#chunks[i];
      if (chunk === undefined) break;
      const take = Math.min(missing, chunk.length);
      chunk.copy(tail, missing - take, chunk.length - take);
      missing -= take;
    }
    return tail;
  }

  #takeBuffered(recordLength: number): Buffer {
    this.#checkRecordSize(recordLength);
    const buffered = Buffer.concat(this.#chunks, this.#length);
    this.reset();
    return buffered.subarray(0, recordLength);
  }

  #emitRecord(record: Buffer, emit: (message: string) => void): void {
    this.#checkRecordSize(record.length);
    emit(toText(record, this.#config.encoding));
  }

  #checkRecordSize(recordLength: number): void {
    const { maxLineBytes } = this.#config;
    if (recordLength > maxLineBytes) {
      throw new DecodeError(
        'WSLANE_MESSAGE_TOO_BIG',
        `line exceeds maxLineBytes (${maxLineBytes})`,
      );
    }
  }
}

function toText(record: Buffer, encoding: LineEncoding): string {
  if (encoding === 'latin1') return record.toString('latin1');
  // Binary frames, and records split between frames, reach here without ws's UTF-8 check.
  const valid = encoding === 'utf8' ? isUtf8(record) : isAscii(record);
  if (!valid) throw new DecodeError('WSLANE_CODEC_DECODE', `line is not valid ${encoding}`);
  return record.toString(encoding);
}

function encodeLine(record: string, config: LinesConfig): EncodedFrame {
  const { terminator, encoding, maxLineBytes } = config;
  if (typeof record !== 'string') {
    throw encodeError(`cannot encode a ${typeof record}`);
  }
  const line = record + terminator;
  // Also catches a record whose end and the terminator form an earlier terminator ("a|" + "||").
  if (line.indexOf(terminator) !== record.length) {
    throw encodeError('record contains the terminator');
  }
  if (encoding !== 'utf8' && !fitsSingleByte(record, encoding === 'ascii' ? 0x7f : 0xff)) {
    throw encodeError(`record is not representable in ${encoding}`);
  }
  const size = encoding === 'utf8' ? Buffer.byteLength(record, 'utf8') : record.length;
  if (size > maxLineBytes) {
    throw encodeError(`record exceeds maxLineBytes (${maxLineBytes})`);
  }
  return encoding === 'latin1'
    ? { data: Buffer.from(line, 'latin1'), binary: true }
    : { data: line, binary: false };
}

function fitsSingleByte(text: string, maxCode: number): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > maxCode) return false;
  }
  return true;
}

function toLinesConfig(options: LinesOptions): LinesConfig {
  const { terminator = '\r\n', maxLineBytes = '1mb', encoding = 'utf8' } = options;
  if (!ENCODINGS.has(encoding)) {
    throw invalidArgument(`unknown encoding "${encoding}"`);
  }
  if (typeof terminator !== 'string' || terminator.length === 0) {
    throw invalidArgument('terminator must be a non-empty string');
  }
  const terminatorBytes = Buffer.from(terminator, encoding);
  if (terminatorBytes.toString(encoding) !== terminator) {
    throw invalidArgument(`terminator is not valid ${encoding}`);
  }
  const maxBytes = toBytes(maxLineBytes);
  if (maxBytes === undefined) {
    throw invalidArgument('maxLineBytes must be a size');
  }
  return { terminator, terminatorBytes, maxLineBytes: maxBytes, encoding };
}

function encodeError(problem: string): WslaneError {
  return new WslaneError('WSLANE_CODEC_ENCODE', `lines: ${problem}`);
}

function invalidArgument(problem: string): WslaneError {
  return new WslaneError('WSLANE_INVALID_ARGUMENT', `lines: ${problem}`);
}
