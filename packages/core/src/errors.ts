/** Every stable error code wslane uses. Codes are public API: add or deprecate, never rename. */
export type WslaneErrorCode =
  | 'WSLANE_CONFIG_INVALID'
  | 'WSLANE_INVALID_ARGUMENT'
  | 'WSLANE_CHANNEL_CLOSED'
  | 'WSLANE_QUEUE_FULL'
  | 'WSLANE_STREAM_FAILED'
  | 'WSLANE_WRITE_TIMEOUT'
  | 'WSLANE_CODEC_DECODE'
  | 'WSLANE_CODEC_ENCODE'
  | 'WSLANE_CODEC_FRAME_TYPE'
  | 'WSLANE_MESSAGE_TOO_BIG'
  | 'WSLANE_HANDLER_FAILED'
  | 'WSLANE_HANDLER_STALLED'
  | 'WSLANE_PROTOCOL_ERROR'
  | 'WSLANE_FRAME_LIMIT'
  | 'WSLANE_PING_FLOOD'
  | 'WSLANE_RATE_LIMITED'
  | 'WSLANE_IDLE_TIMEOUT'
  | 'WSLANE_HEARTBEAT_TIMEOUT'
  | 'WSLANE_LIFETIME_EXPIRED'
  | 'WSLANE_CLOSE_TIMEOUT'
  | 'WSLANE_HANDSHAKE_TIMEOUT'
  | 'WSLANE_KEY_REPLACED'
  | 'WSLANE_KEY_CONFLICT'
  | 'WSLANE_ORIGIN_FORBIDDEN'
  | 'WSLANE_CONNECTION_LIMIT'
  | 'WSLANE_IP_LIMIT'
  | 'WSLANE_ROUTE_NOT_FOUND'
  | 'WSLANE_UPGRADE_INVALID'
  | 'WSLANE_UPGRADE_REFUSED'
  | 'WSLANE_HUB_CLOSING';

/** How a failure with a given code ends a connection. */
export interface ErrorOutcome {
  /** WebSocket close code sent to the peer, or `'terminate'` when the socket is destroyed. */
  readonly close?: number | 'terminate';
  /** HTTP status written instead of the 101 when the failure happens before the handshake. */
  readonly status?: number;
}

/**
 * The one table from error code to close code and HTTP status. Configurable close codes
 * (`closeCodes.*` in the config) override the numbers here for a given hub.
 */
export const ERROR_OUTCOMES: Readonly<Record<WslaneErrorCode, ErrorOutcome>> = {
  WSLANE_CONFIG_INVALID: {},
  WSLANE_INVALID_ARGUMENT: {},
  WSLANE_CHANNEL_CLOSED: {},
  WSLANE_QUEUE_FULL: { close: 1013 },
  WSLANE_STREAM_FAILED: { close: 1011 },
  WSLANE_WRITE_TIMEOUT: { close: 'terminate' },
  WSLANE_CODEC_DECODE: { close: 1007 },
  WSLANE_CODEC_ENCODE: {},
  WSLANE_CODEC_FRAME_TYPE: { close: 1003 },
  WSLANE_MESSAGE_TOO_BIG: { close: 1009 },
  WSLANE_HANDLER_FAILED: { close: 1011, status: 500 },
  WSLANE_HANDLER_STALLED: { close: 1011 },
  WSLANE_PROTOCOL_ERROR: { close: 1002 },
  WSLANE_FRAME_LIMIT: { close: 1008 },
  WSLANE_PING_FLOOD: { close: 'terminate' },
  WSLANE_RATE_LIMITED: { close: 1008 },
  WSLANE_IDLE_TIMEOUT: { close: 4408 },
  WSLANE_HEARTBEAT_TIMEOUT: { close: 'terminate' },
  WSLANE_LIFETIME_EXPIRED: { close: 4001 },
  WSLANE_CLOSE_TIMEOUT: { close: 'terminate' },
  WSLANE_HANDSHAKE_TIMEOUT: { status: 408 },
  WSLANE_KEY_REPLACED: { close: 4409 },
  WSLANE_KEY_CONFLICT: { status: 409 },
  WSLANE_ORIGIN_FORBIDDEN: { status: 403 },
  WSLANE_CONNECTION_LIMIT: { status: 503 },
  WSLANE_IP_LIMIT: { status: 429 },
  WSLANE_ROUTE_NOT_FOUND: { status: 404 },
  WSLANE_UPGRADE_INVALID: { status: 400 },
  WSLANE_UPGRADE_REFUSED: { status: 403 },
  WSLANE_HUB_CLOSING: { close: 1001, status: 503 },
};

/** Options of a {@link WslaneError}. */
export interface WslaneErrorOptions {
  /** The underlying error (a `ZodError`, a socket error, a handler's exception). */
  readonly cause?: unknown;
}

/**
 * Base of every error wslane throws or rejects with.
 *
 * @example
 * ```ts
 * try { await channel.send(msg); } catch (e) { if (isWslaneError(e) && e.code === 'WSLANE_CHANNEL_CLOSED') {} }
 * ```
 */
export class WslaneError extends Error {
  override name = 'WslaneError';
  readonly code: WslaneErrorCode;

  constructor(code: WslaneErrorCode, message: string, options: WslaneErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** One problem in a config object: where it is and what is wrong. */
export interface ConfigIssue {
  /** Dotted path of the field, e.g. `timeouts.idle` or `routes["/ws/chat"].limits.maxPayload`. */
  readonly path: string;
  readonly message: string;
}

/** Invalid config: lists every problem with its path, never only the first. */
export class ConfigError extends WslaneError {
  override name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options: WslaneErrorOptions = {}) {
    super('WSLANE_CONFIG_INVALID', formatIssues(issues), options);
    this.issues = issues;
  }
}

/** A send, stream or close on a channel that is closing or closed. */
export class ChannelClosedError extends WslaneError {
  override name = 'ChannelClosedError';
  /** The close code that closed the channel, when it is known. */
  readonly closeCode: number | undefined;
  /** The close reason that closed the channel, when it is known. */
  readonly closeReason: string | undefined;

  constructor(closeCode?: number, closeReason?: string, options: WslaneErrorOptions = {}) {
    super('WSLANE_CHANNEL_CLOSED', describeClosed(closeCode), options);
    this.closeCode = closeCode;
    this.closeReason = closeReason;
  }
}

/** A send refused because the channel's lane is over `maxBufferedBytes` (policy `reject`). */
export class BackpressureError extends WslaneError {
  override name = 'BackpressureError';
  /** Bytes queued on the channel (lane + socket) when the send was refused. */
  readonly queuedBytes: number;
  /** The configured `maxBufferedBytes`. */
  readonly maxBufferedBytes: number;

  constructor(queuedBytes: number, maxBufferedBytes: number) {
    super(
      'WSLANE_QUEUE_FULL',
      `outbound queue full: ${queuedBytes} bytes queued, limit ${maxBufferedBytes}`,
    );
    this.queuedBytes = queuedBytes;
    this.maxBufferedBytes = maxBufferedBytes;
  }
}

/** An inbound frame the route's codec could not turn into a message. */
export class DecodeError extends WslaneError {
  override name = 'DecodeError';

  constructor(
    code: 'WSLANE_CODEC_DECODE' | 'WSLANE_CODEC_FRAME_TYPE' | 'WSLANE_MESSAGE_TOO_BIG',
    message: string,
    options: WslaneErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

/** Response headers of a refused upgrade. */
export type RefusalHeaders = Readonly<
  Record<string, string | number | readonly string[] | undefined>
>;

/**
 * Thrown by upgrade-time code (a route binding's `context`) to answer with an HTTP error
 * instead of a 101. Create it with {@link upgradeRefusal}.
 */
export class UpgradeRefusedError extends WslaneError {
  override name = 'UpgradeRefusedError';
  readonly status: number;
  readonly headers: RefusalHeaders;
  readonly body: string | undefined;

  constructor(status: number, headers: RefusalHeaders = {}, body?: string) {
    super('WSLANE_UPGRADE_REFUSED', `upgrade refused with ${status}`);
    this.status = status;
    this.headers = headers;
    this.body = body;
  }
}

/**
 * An HTTP refusal to throw from upgrade-time code.
 *
 * @example
 * ```ts
 * hub.attach(server, { '/ws': { route, context: (req) => {
 *   if (!req.headers.authorization) throw upgradeRefusal(401, { 'WWW-Authenticate': 'Bearer' });
 *   return { user: 'alice' };
 * } } });
 * ```
 */
export function upgradeRefusal(
  status: number,
  headers?: RefusalHeaders,
  body?: string,
): UpgradeRefusedError {
  return new UpgradeRefusedError(status, headers, body);
}

const ERROR_NAMES: ReadonlySet<string> = new Set([
  'WslaneError',
  'ChannelClosedError',
  'BackpressureError',
  'DecodeError',
  'ConfigError',
  'UpgradeRefusedError',
]);

/** True for any wslane error, even one thrown by another copy of `@wslane/core`. */
export function isWslaneError(value: unknown): value is WslaneError {
  if (typeof value !== 'object' || value === null) return false;
  const { name, code } = value as { name?: unknown; code?: unknown };
  return (
    typeof name === 'string' &&
    ERROR_NAMES.has(name) &&
    typeof code === 'string' &&
    Object.hasOwn(ERROR_OUTCOMES, code)
  );
}

function describeClosed(closeCode: number | undefined): string {
  return closeCode === undefined ? 'channel is closed' : `channel is closed (${closeCode})`;
}

function formatIssues(issues: readonly ConfigIssue[]): string {
  const lines = issues.map((issue) => `  ${issue.path || '(root)'}: ${issue.message}`);
  return `invalid wslane config:\n${lines.join('\n')}`;
}
