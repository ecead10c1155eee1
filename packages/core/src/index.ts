export type { Channel, ChannelState, ChannelStats } from './channel.js';
export type {
  AdmissionLimits,
  BroadcastOptions,
  BroadcastResult,
  ManagerStats,
  Room,
} from './channel-manager.js';
export { ChannelManager } from './channel-manager.js';
export type { Codec, EncodedFrame, FrameDecoder, InboundOf, OutboundOf } from './codec.js';
export type { JsonInbound, JsonOptions, JsonOutbound } from './codecs/json.js';
export { json } from './codecs/json.js';
export type { LengthPrefixedOptions } from './codecs/length-prefixed.js';
export { lengthPrefixed } from './codecs/length-prefixed.js';
export type { LineEncoding, LinesOptions } from './codecs/lines.js';
export { lines } from './codecs/lines.js';
export type { RawMessage, RawOutboundMessage } from './codecs/raw.js';
export { raw } from './codecs/raw.js';
export type {
  ChannelConfig,
  DurationInput,
  HubConfig,
  HubOptions,
  OverflowPolicy,
  RouteOptions,
  SizeInput,
} from './config.js';
export { hubConfigSchema, loadConfig, parseConfig, resolveChannelConfig } from './config.js';
export type { RecordSnapshots } from './empty-context.js';
export { EMPTY_CONTEXT, snapshotRecord, snapshotRecords } from './empty-context.js';
export type {
  ConfigIssue,
  ErrorOutcome,
  RefusalHeaders,
  WslaneErrorCode,
  WslaneErrorOptions,
} from './errors.js';
export {
  BackpressureError,
  ChannelClosedError,
  ConfigError,
  DecodeError,
  ERROR_OUTCOMES,
  isWslaneError,
  UpgradeRefusedError,
  upgradeRefusal,
  WslaneError,
} from './errors.js';
export type { HubCloseOptions, HubStats, RouteBinding, RouteTable } from './hub.js';
export { createHub, Hub } from './hub.js';
export type { StreamChunk } from './internal/stream-source.js';
export { listenOn } from './listen-on.js';
export type { Logger } from './logger.js';
export { silentLogger } from './logger.js';
export type { UpgradeHeaders } from './pending-upgrade.js';
export { PendingUpgrade } from './pending-upgrade.js';
export { RequestSlot } from './request-slot.js';
export type { Route, RouteDefinition, RouteHandlers } from './route.js';
export { createRoute } from './route.js';
export type { OfferResult, StreamOptions } from './serialized-writer.js';
export type { DeadlineVerdict, TimeoutsConfig } from './timeout-policy.js';
