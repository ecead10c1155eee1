import { createRoute, lines, type Route } from '@wslane/core';
import { sendBack } from './send-back.js';

/** Largest record `/ws/lines` accepts, terminator not counted; one byte more closes with 1009. */
export const MAX_LINE_BYTES = 64 * 1024;

/**
 * `/ws/lines`: a `\r\n` line protocol. Records may span frames and a frame may hold several;
 * every complete record comes back as that line plus `\r\n`.
 */
export function createLinesRoute(): Route<string, string> {
  return createRoute({
    name: 'lines',
    codec: lines({ terminator: '\r\n', maxLineBytes: MAX_LINE_BYTES }),
    onMessage: (line, channel) => sendBack(channel, line),
  });
}
