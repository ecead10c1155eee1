export type {
  HonoChannel,
  HonoWebSocket,
  HonoWebSocketEvents,
  UpgradeEventsOptions,
  WebSocketCloseEventInit,
} from './events-route.js';
export { WebSocketCloseEvent, WebSocketErrorEvent } from './events-route.js';
export type {
  FetchApp,
  UpgradeBindings,
  UpgradeRouteOptions,
  WebSocketMiddleware,
  WslaneHono,
  WslaneHonoOptions,
  WslaneUpgradeWebSocket,
} from './upgrade-options.js';
export { wslane } from './wslane.js';
