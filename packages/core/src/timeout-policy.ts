import type { HubConfig } from './config.js';

/** The timeout settings of one channel (the `timeouts` section of the config). */
export type TimeoutsConfig = HubConfig['timeouts'];

/** The timestamps (ms epoch, 0 = never) one channel's deadlines are computed from. */
export interface DeadlineView {
  readonly openedAt: number;
  /** Last inbound frame of any kind: data, ping or pong (proof of life for the heartbeat). */
  readonly lastInboundAt: number;
  /** Last inbound data frame (what `idle` measures: pongs do not count). */
  readonly lastDataAt: number;
  /** When the outstanding ping was sent; 0 when none is outstanding. */
  readonly pingSentAt: number;
  /** When closing started; 0 while open. */
  readonly closingAt: number;
  /** Reads are paused by the channel's own inbound backpressure: the server is the slow side. */
  readonly readsPaused: boolean;
  /** True while outbound bytes wait in the lane or the socket. */
  readonly sending: boolean;
  /** Last time outbound bytes made progress (or started waiting). */
  readonly lastProgressAt: number;
}

/** What a channel must do now; `none` most of the time. */
export type DeadlineVerdict =
  | 'none'
  | 'ping'
  | 'idle'
  | 'max-lifetime'
  | 'heartbeat'
  | 'close-handshake'
  | 'send-stall';

/**
 * Decides which deadline of a channel has passed. Pure: the shared clock calls it for every
 * channel on each tick, so no channel owns a timer.
 */
export function checkDeadlines(
  view: DeadlineView,
  timeouts: TimeoutsConfig,
  now: number,
): DeadlineVerdict {
  if (view.closingAt > 0) {
    return now - view.closingAt >= timeouts.closeHandshake ? 'close-handshake' : 'none';
  }
  if (timeouts.sendStall > 0 && view.sending && now - view.lastProgressAt >= timeouts.sendStall) {
    return 'send-stall';
  }
  if (timeouts.maxLifetime > 0 && now - view.openedAt >= timeouts.maxLifetime) {
    return 'max-lifetime';
  }
  // While our own reads are paused the peer cannot be heard: idle and heartbeat wait.
  if (view.readsPaused) return 'none';
  if (timeouts.idle > 0 && now - view.lastDataAt >= timeouts.idle) return 'idle';
  const heartbeat = timeouts.heartbeat;
  if (heartbeat === false) return 'none';
  if (view.pingSentAt > 0) {
    return now - view.pingSentAt >= heartbeat.timeout ? 'heartbeat' : 'none';
  }
  return now - view.lastInboundAt >= heartbeat.interval ? 'ping' : 'none';
}

/** The shortest enabled duration of a timeouts section: the shared clock ticks a fraction of it. */
export function shortestTimeout(timeouts: TimeoutsConfig): number {
  const durations = [
    timeouts.handshake,
    timeouts.idle,
    timeouts.maxLifetime,
    timeouts.closeHandshake,
    timeouts.sendStall,
    timeouts.heartbeat === false ? 0 : timeouts.heartbeat.interval,
    timeouts.heartbeat === false ? 0 : timeouts.heartbeat.timeout,
  ].filter((duration) => duration > 0);
  return durations.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...durations);
}
