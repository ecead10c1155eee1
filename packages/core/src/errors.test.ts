import { readFileSync } from 'node:fs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  BackpressureError,
  ChannelClosedError,
  ConfigError,
  DecodeError,
  ERROR_OUTCOMES,
  type ErrorOutcome,
  isWslaneError,
  WslaneError,
  type WslaneErrorCode,
} from './errors.js';

/** Every member of the `WslaneErrorCode` union, copied from errors.ts by hand. */
const CODES = [
  'WSLANE_CONFIG_INVALID',
  'WSLANE_INVALID_ARGUMENT',
  'WSLANE_CHANNEL_CLOSED',
  'WSLANE_QUEUE_FULL',
  'WSLANE_STREAM_FAILED',
  'WSLANE_WRITE_TIMEOUT',
  'WSLANE_CODEC_DECODE',
  'WSLANE_CODEC_ENCODE',
  'WSLANE_CODEC_FRAME_TYPE',
  'WSLANE_MESSAGE_TOO_BIG',
  'WSLANE_HANDLER_FAILED',
  'WSLANE_HANDLER_STALLED',
  'WSLANE_PROTOCOL_ERROR',
  'WSLANE_FRAME_LIMIT',
  'WSLANE_PING_FLOOD',
  'WSLANE_RATE_LIMITED',
  'WSLANE_IDLE_TIMEOUT',
  'WSLANE_HEARTBEAT_TIMEOUT',
  'WSLANE_LIFETIME_EXPIRED',
  'WSLANE_CLOSE_TIMEOUT',
  'WSLANE_HANDSHAKE_TIMEOUT',
  'WSLANE_KEY_REPLACED',
  'WSLANE_KEY_CONFLICT',
  'WSLANE_ORIGIN_FORBIDDEN',
  'WSLANE_CONNECTION_LIMIT',
  'WSLANE_IP_LIMIT',
  'WSLANE_ROUTE_NOT_FOUND',
  'WSLANE_UPGRADE_INVALID',
  'WSLANE_UPGRADE_REFUSED',
  'WSLANE_HUB_CLOSING',
] as const;

const ERRORS_DOC = new URL('../../../docs/errors.md', import.meta.url);

interface DocumentedOutcome {
  readonly code: string;
  readonly outcome: ErrorOutcome;
}

/** Rows of the table in docs/errors.md: `| \`CODE\` | when | close | status | what to do |`. */
function documentedOutcomes(): DocumentedOutcome[] {
  const rows: DocumentedOutcome[] = [];
  for (const line of readFileSync(ERRORS_DOC, 'utf8').split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const code = /^`(WSLANE_[A-Z_]+)`$/.exec(cells[1] ?? '')?.[1];
    if (code === undefined || cells.length < 7) continue;
    const close = toOutcomeValue(cells[3] ?? '');
    const status = toOutcomeValue(cells[4] ?? '');
    rows.push({
      code,
      outcome: {
        ...(close === undefined ? {} : { close }),
        ...(typeof status === 'number' ? { status } : {}),
      },
    });
  }
  return rows;
}

function toOutcomeValue(cell: string): number | 'terminate' | undefined {
  const token = /^(\d+|terminate)\b/.exec(cell)?.[1];
  if (token === undefined) return undefined;
  return token === 'terminate' ? token : Number(token);
}

describe('ERROR_OUTCOMES', () => {
  it('lists exactly the codes of the WslaneErrorCode union', () => {
    expectTypeOf<(typeof CODES)[number]>().toEqualTypeOf<WslaneErrorCode>();
    expect(Object.keys(ERROR_OUTCOMES).sort()).toEqual([...CODES].sort());
  });

  it('maps every code to a sendable close code, terminate, or an HTTP error status', () => {
    for (const code of CODES) {
      const { close, status } = ERROR_OUTCOMES[code];
      if (close !== undefined && close !== 'terminate') {
        expect(close >= 1000 && close <= 4999, `${code} close ${close}`).toBe(true);
        expect([1004, 1005, 1006, 1015], code).not.toContain(close);
      }
      if (status !== undefined) {
        expect(status >= 400 && status <= 599, `${code} status ${status}`).toBe(true);
      }
    }
  });

  it('closes with the codes the design promises for oversize, undecodable and wrong-type input', () => {
    expect(ERROR_OUTCOMES.WSLANE_MESSAGE_TOO_BIG.close).toBe(1009);
    expect(ERROR_OUTCOMES.WSLANE_CODEC_DECODE.close).toBe(1007);
    expect(ERROR_OUTCOMES.WSLANE_CODEC_FRAME_TYPE.close).toBe(1003);
    expect(ERROR_OUTCOMES.WSLANE_HANDLER_FAILED.close).toBe(1011);
    expect(ERROR_OUTCOMES.WSLANE_QUEUE_FULL.close).toBe(1013);
    expect(ERROR_OUTCOMES.WSLANE_KEY_REPLACED.close).toBe(4409);
  });

  it('refuses upgrades with the statuses the design promises', () => {
    expect(ERROR_OUTCOMES.WSLANE_ORIGIN_FORBIDDEN.status).toBe(403);
    expect(ERROR_OUTCOMES.WSLANE_ROUTE_NOT_FOUND.status).toBe(404);
    expect(ERROR_OUTCOMES.WSLANE_KEY_CONFLICT.status).toBe(409);
    expect(ERROR_OUTCOMES.WSLANE_IP_LIMIT.status).toBe(429);
    expect(ERROR_OUTCOMES.WSLANE_CONNECTION_LIMIT.status).toBe(503);
    expect(ERROR_OUTCOMES.WSLANE_HUB_CLOSING.status).toBe(503);
  });
});

describe('docs/errors.md', () => {
  it('documents every code exactly once', () => {
    const documented = documentedOutcomes().map((row) => row.code);
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented].sort()).toEqual([...CODES].sort());
  });

  it('shows the close code and HTTP status of ERROR_OUTCOMES for every code', () => {
    const rows = documentedOutcomes();
    expect(rows).toHaveLength(CODES.length);
    for (const { code, outcome } of rows) {
      expect(outcome, code).toEqual(ERROR_OUTCOMES[code as WslaneErrorCode]);
    }
  });
});

describe('WslaneError', () => {
  it('carries its code, name and message and is an Error', () => {
    const error = new WslaneError('WSLANE_INVALID_ARGUMENT', 'bad close code');
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('WSLANE_INVALID_ARGUMENT');
    expect(error.name).toBe('WslaneError');
    expect(error.message).toBe('bad close code');
  });

  it('keeps the cause it was given', () => {
    const cause = new Error('socket reset');
    expect(new WslaneError('WSLANE_HANDLER_FAILED', 'failed', { cause }).cause).toBe(cause);
  });

  it('keeps a cause that is not an Error, and has no cause when none was given', () => {
    expect(new WslaneError('WSLANE_HANDLER_FAILED', 'failed', { cause: 'boom' }).cause).toBe(
      'boom',
    );
    expect('cause' in new WslaneError('WSLANE_HANDLER_FAILED', 'failed')).toBe(false);
  });
});

describe('error subclasses', () => {
  it('ConfigError has code WSLANE_CONFIG_INVALID and keeps its issues and cause', () => {
    const cause = new Error('zod');
    const issues = [
      { path: 'timeouts.idle', message: 'bad' },
      { path: 'limits.maxPayload', message: 'bad' },
    ];
    const error = new ConfigError(issues, { cause });
    expect(error).toBeInstanceOf(WslaneError);
    expect(error.name).toBe('ConfigError');
    expect(error.code).toBe('WSLANE_CONFIG_INVALID');
    expect(error.issues).toEqual(issues);
    expect(error.cause).toBe(cause);
  });

  it('ChannelClosedError has code WSLANE_CHANNEL_CLOSED and keeps the close code, reason and cause', () => {
    const cause = new Error('reset');
    const error = new ChannelClosedError(4409, 'replaced', { cause });
    expect(error).toBeInstanceOf(WslaneError);
    expect(error.name).toBe('ChannelClosedError');
    expect(error.code).toBe('WSLANE_CHANNEL_CLOSED');
    expect(error.closeCode).toBe(4409);
    expect(error.closeReason).toBe('replaced');
    expect(error.cause).toBe(cause);
  });

  it('ChannelClosedError leaves close code and reason undefined when unknown', () => {
    const error = new ChannelClosedError();
    expect(error.code).toBe('WSLANE_CHANNEL_CLOSED');
    expect(error.closeCode).toBeUndefined();
    expect(error.closeReason).toBeUndefined();
  });

  it('BackpressureError has code WSLANE_QUEUE_FULL and keeps the byte counts', () => {
    const error = new BackpressureError(3000, 2048);
    expect(error).toBeInstanceOf(WslaneError);
    expect(error.name).toBe('BackpressureError');
    expect(error.code).toBe('WSLANE_QUEUE_FULL');
    expect(error.queuedBytes).toBe(3000);
    expect(error.maxBufferedBytes).toBe(2048);
  });

  it.each(['WSLANE_CODEC_DECODE', 'WSLANE_CODEC_FRAME_TYPE', 'WSLANE_MESSAGE_TOO_BIG'] as const)(
    'DecodeError keeps code %s and its cause',
    (code) => {
      const cause = new SyntaxError('Unexpected token');
      const error = new DecodeError(code, 'bad frame', { cause });
      expect(error).toBeInstanceOf(WslaneError);
      expect(error.name).toBe('DecodeError');
      expect(error.code).toBe(code);
      expect(error.cause).toBe(cause);
    },
  );
});

describe('isWslaneError', () => {
  it('accepts every wslane error class', () => {
    expect(isWslaneError(new WslaneError('WSLANE_CODEC_ENCODE', 'x'))).toBe(true);
    expect(isWslaneError(new ConfigError([]))).toBe(true);
    expect(isWslaneError(new ChannelClosedError(1000))).toBe(true);
    expect(isWslaneError(new BackpressureError(1, 0))).toBe(true);
    expect(isWslaneError(new DecodeError('WSLANE_CODEC_DECODE', 'x'))).toBe(true);
  });

  it('accepts an error from another copy of core, recognised by name and code', () => {
    class WslaneErrorCopy extends Error {
      override name = 'WslaneError';
      readonly code = 'WSLANE_CHANNEL_CLOSED';
    }
    const copy = new WslaneErrorCopy('closed');
    expect(copy).not.toBeInstanceOf(WslaneError);
    expect(isWslaneError(copy)).toBe(true);
    expect(isWslaneError({ name: 'ChannelClosedError', code: 'WSLANE_CHANNEL_CLOSED' })).toBe(true);
    expect(isWslaneError({ name: 'ConfigError', code: 'WSLANE_CONFIG_INVALID', issues: [] })).toBe(
      true,
    );
  });

  it('rejects other errors, including ones with a code of their own', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(isWslaneError(new Error('plain'))).toBe(false);
    expect(isWslaneError(new TypeError('type'))).toBe(false);
    expect(isWslaneError(reset)).toBe(false);
  });

  it('rejects a wslane name with an unknown code and a wslane code with a foreign name', () => {
    expect(isWslaneError({ name: 'WslaneError', code: 'WSLANE_NOT_A_CODE' })).toBe(false);
    expect(isWslaneError({ name: 'WslaneError', code: 'toString' })).toBe(false);
    expect(isWslaneError({ name: 'WslaneError' })).toBe(false);
    expect(isWslaneError({ name: 'Error', code: 'WSLANE_CHANNEL_CLOSED' })).toBe(false);
    expect(isWslaneError({ code: 'WSLANE_CHANNEL_CLOSED' })).toBe(false);
  });

  it('rejects values that are not objects', () => {
    for (const value of [undefined, null, 'WSLANE_CHANNEL_CLOSED', 42, true]) {
      expect(isWslaneError(value)).toBe(false);
    }
  });
});
