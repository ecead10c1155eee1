import { WslaneError } from './errors.js';

/** One outgoing frame payload: text frames carry UTF-8 (as a string or its bytes), binary frames bytes. */
export interface EncodedFrame {
  readonly data: Buffer | string;
  readonly binary: boolean;
}

/**
 * The per-channel, stateful half of a codec: turns inbound frames into zero or more messages.
 * A record may span frames and a frame may hold several records, so the decoder keeps state.
 */
export interface FrameDecoder<TIn> {
  /**
   * Decodes one frame, calling `emit` once per complete message in order.
   *
   * @throws {DecodeError} `WSLANE_CODEC_DECODE` (bad content, close 1007),
   * `WSLANE_CODEC_FRAME_TYPE` (text vs binary, close 1003) or `WSLANE_MESSAGE_TOO_BIG` (close 1009).
   * Messages emitted before the throw are valid and are delivered.
   */
  decode(frame: Buffer, isBinary: boolean, emit: (message: TIn) => void): void;
  /** Frees any partial record; called when the channel is released. */
  reset?(): void;
}

/**
 * How a route turns frames into messages and messages into frames.
 *
 * @example
 * ```ts
 * const upper: Codec<string> = {
 *   name: 'upper',
 *   encode: (text) => ({ data: text.toUpperCase(), binary: false }),
 *   createDecoder: () => ({ decode: (frame, _isBinary, emit) => emit(frame.toString('utf8')) }),
 * };
 * ```
 */
export interface Codec<TIn, TOut = TIn> {
  /** Short name used in logs and error messages. */
  readonly name: string;
  /**
   * Encodes one outgoing message to one frame payload. Must not keep a reference to mutable state:
   * a broadcast encodes once and hands the result to many channels.
   *
   * @throws {WslaneError} `WSLANE_CODEC_ENCODE` when the message cannot be encoded.
   */
  encode(message: TOut): EncodedFrame;
  /** Creates the decoder of one channel. */
  createDecoder(): FrameDecoder<TIn>;
}

/** The message type a codec decodes to. */
export type InboundOf<TCodec> = TCodec extends Codec<infer TIn, unknown> ? TIn : never;
/** The message type a codec encodes from. */
export type OutboundOf<TCodec> = TCodec extends Codec<unknown, infer TOut> ? TOut : never;

/** Encodes with `codec`, turning a failure into a `WSLANE_CODEC_ENCODE` error instead of a throw. */
export function encodeOrError<TOut>(
  codec: Codec<unknown, TOut>,
  message: TOut,
): EncodedFrame | WslaneError {
  try {
    return codec.encode(message);
  } catch (error) {
    if (error instanceof WslaneError) return error;
    return new WslaneError('WSLANE_CODEC_ENCODE', 'message could not be encoded', { cause: error });
  }
}
