import type { ChannelConfig, HubConfig } from './config.js';
import { WslaneError } from './errors.js';

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
  /** While reads are paused: when they paused or a handler call last finished since. */
  readonly handlerProgressAt: number;
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
  | 'send-stall'
  | 'handler-stall';

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
  // While our own reads are paused the peer cannot be heard: idle and heartbeat wait, and only
  // the handlers' progress is measured (a hung handler would otherwise hold the channel forever).
  if (view.readsPaused) {
    const stall = timeouts.handlerStall;
    return stall > 0 && now - view.handlerProgressAt >= stall ? 'handler-stall' : 'none';
  }
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
    timeouts.handlerStall,
    timeouts.heartbeat === false ? 0 : timeouts.heartbeat.interval,
    timeouts.heartbeat === false ? 0 : timeouts.heartbeat.timeout,
  ].filter((duration) => duration > 0);
  return durations.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...durations);
}

/** What a channel offers the policy to act on a verdict. */
export interface DeadlineTarget {
  readonly config: ChannelConfig;
  ping(now: number): void;
  /** Closes for a policy reason (idle, lifetime): not an error. */
  expire(code: number, reason: string): void;
  /** Ends the channel because of an error. */
  fail(error: WslaneError, closeCode: number | 'terminate'): void;
}

/** Carries out a verdict of {@link checkDeadlines} on a channel. */
export function applyDeadline(target: DeadlineTarget, verdict: DeadlineVerdict, now: number): void {
  const codes = target.config.closeCodes;
  switch (verdict) {
    case 'none':
      return;
    case 'ping':
      target.ping(now);
      return;
    case 'idle':
      target.expire(codes.idle, 'idle timeout');
      return;
    case 'max-lifetime':
      target.expire(codes.maxLifetime, 'max lifetime reached');
      return;
    case 'heartbeat':
      target.fail(new WslaneError('WSLANE_HEARTBEAT_TIMEOUT', 'no pong in time'), 'terminate');
      return;
    case 'close-handshake':
      target.fail(
        new WslaneError('WSLANE_CLOSE_TIMEOUT', 'close handshake timed out'),
        'terminate',
      );
      return;
    case 'send-stall':
      target.fail(new WslaneError('WSLANE_WRITE_TIMEOUT', 'outbound bytes stalled'), 'terminate');
      return;
    case 'handler-stall':
      target.fail(
        new WslaneError(
          'WSLANE_HANDLER_STALLED',
          'no handler call finished while reads were paused',
        ),
        1011,
      );
      return;
  }
}
