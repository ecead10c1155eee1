import { type Channel, isWslaneError } from '@wslane/core';

/**
 * Sends `message` and waits for the lane to take it, so a handler that awaits this is paced by
 * its peer. A peer that left meanwhile is not a handler failure: nothing is left to answer.
 */
export async function sendBack<TOut>(
  channel: Channel<TOut, unknown>,
  message: TOut,
): Promise<void> {
  try {
    await channel.send(message);
  } catch (error) {
    if (!isWslaneError(error) || error.code !== 'WSLANE_CHANNEL_CLOSED') throw error;
  }
}
