import type { Channel } from './channel.js';
import type { WslaneError } from './errors.js';
import type { Logger } from './logger.js';
import type { Route } from './route.js';

/**
 * How a channel's error is reported: logged as a warning, then handed to the route's `onError`.
 * A throwing `onError` is logged, never thrown back into the channel's event handling.
 */
export function reportError(
  // biome-ignore lint/suspicious/noExplicitAny: a channel of any route.
  route: Route<any, any, any>,
  // biome-ignore lint/suspicious/noExplicitAny: its channel, of that route's types.
  channel: Channel<any, any>,
  logger: Logger,
  error: WslaneError,
): void {
  logger.warn(error.message, { code: error.code, channel: channel.id, cause: error.cause });
  try {
    route.onError?.(error, channel);
  } catch (hookError) {
    logger.error('onError hook threw', { channel: channel.id, cause: hookError });
  }
}
