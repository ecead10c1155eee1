import type { FrameDecoder } from './codec.js';
import type { ChannelConfig } from './config.js';
import { DecodeError, ERROR_OUTCOMES, WslaneError } from './errors.js';
import { InboundRateLimiter } from './internal/rate-limiter.js';

/** A decode failure waiting in the inbound queue, so `onInvalidMessage` keeps message order. */
export class InvalidMessage {
  constructor(readonly error: DecodeError) {}
}

/** The channel an intake decodes for: its settings, and where failures are reported. */
export interface IntakeTarget {
  readonly config: ChannelConfig;
  /** The route handles undecodable messages itself (`onInvalidMessage`). */
  readonly keepsInvalidMessages: boolean;
  fail(error: WslaneError, closeCode: number, reason: string): void;
}

/**
 * The decode side of one channel: rate limit, codec decoder and decode failures, turning each
 * inbound frame into zero or more messages for {@link accept}. Keeps the inbound counters. The
 * channel's InboundDispatcher extends it, so a channel's inbound side is one object.
 */
export abstract class FrameIntake<TIn, TTarget extends IntakeTarget = IntakeTarget> {
  messagesIn = 0;
  bytesIn = 0;
  /** Frames dropped by the rate limit (action `drop`). */
  droppedIn = 0;
  lastMessageAt = 0;
  protected readonly target: TTarget;
  readonly #decoder: FrameDecoder<TIn>;
  readonly #rateLimiter: InboundRateLimiter | undefined;

  constructor(decoder: FrameDecoder<TIn>, target: TTarget) {
    this.#decoder = decoder;
    this.target = target;
    const rateLimit = target.config.limits.rateLimit;
    this.#rateLimiter = rateLimit === false ? undefined : new InboundRateLimiter(rateLimit);
  }

  /** A decoded message, or a decode failure the route handles itself, in arrival order. */
  protected abstract accept(item: TIn | InvalidMessage): void;

  /** One inbound data frame. */
  receive(data: Buffer, isBinary: boolean, now: number): void {
    this.bytesIn += data.length;
    if (this.#rateLimiter !== undefined && !this.#rateLimiter.take(now)) {
      this.onRateLimited();
      return;
    }
    this.lastMessageAt = now;
    try {
      // A callback per frame rather than one kept per channel: a quiet channel holds none.
      this.#decoder.decode(data, isBinary, (message: TIn) => this.emitted(message));
    } catch (error) {
      this.onDecodeError(error);
    }
  }

  /** Frees a partial record (the channel is gone). */
  reset(): void {
    this.#decoder.reset?.();
  }

  private emitted(message: TIn): void {
    this.messagesIn++;
    this.accept(message);
  }

  private onDecodeError(error: unknown): void {
    const failure =
      error instanceof DecodeError
        ? error
        : new DecodeError('WSLANE_CODEC_DECODE', 'message could not be decoded', { cause: error });
    if (failure.code === 'WSLANE_CODEC_DECODE' && this.target.keepsInvalidMessages) {
      this.accept(new InvalidMessage(failure));
      return;
    }
    this.target.fail(failure, ERROR_OUTCOMES[failure.code].close as number, failure.message);
  }

  private onRateLimited(): void {
    const limit = this.target.config.limits.rateLimit;
    if (limit !== false && limit.action === 'drop') {
      this.droppedIn++;
      return;
    }
    const error = new WslaneError('WSLANE_RATE_LIMITED', 'inbound message rate over the limit');
    this.target.fail(error, this.target.config.closeCodes.rateLimit, 'rate limit exceeded');
  }
}
