import { createRoute, type Route } from '@wslane/core';
import { sendBack } from './send-back.js';

/** `/ws/echo`: raw frames; every text or binary message comes back unchanged, in order. */
export function createEchoRoute(): Route {
  return createRoute({ name: 'echo', onMessage: (message, channel) => sendBack(channel, message) });
}
