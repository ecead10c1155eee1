import type { WslaneErrorCode } from '../errors.js';

/** What a `ws` receiver error means: our code, and the close code `ws` itself sends for it. */
export interface WsErrorMeaning {
  readonly code: WslaneErrorCode;
  readonly closeCode: number;
}

const TOO_BIG: WsErrorMeaning = { code: 'WSLANE_MESSAGE_TOO_BIG', closeCode: 1009 };
const MEANINGS: Readonly<Record<string, WsErrorMeaning>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: TOO_BIG,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: TOO_BIG,
  WS_ERR_INVALID_UTF8: { code: 'WSLANE_CODEC_DECODE', closeCode: 1007 },
  WS_ERR_TOO_MANY_BUFFERED_PARTS: { code: 'WSLANE_FRAME_LIMIT', closeCode: 1008 },
};
const PROTOCOL_ERROR: WsErrorMeaning = { code: 'WSLANE_PROTOCOL_ERROR', closeCode: 1002 };

/** Maps a `ws` error (by its stable `code` property) to what wslane reports. */
export function toWsErrorMeaning(error: Error): WsErrorMeaning {
  const code = (error as { code?: unknown }).code;
  return (typeof code === 'string' ? MEANINGS[code] : undefined) ?? PROTOCOL_ERROR;
}
