import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';
import {
  checkDeadlines,
  type DeadlineView,
  shortestTimeout,
  type TimeoutsConfig,
} from './timeout-policy.js';

const T0 = 1_700_000_000_000;

/** Every deadline on, each with its own distinct duration so boundaries cannot be confused. */
const TIMEOUTS: TimeoutsConfig = {
  handshake: 10_000,
  idle: 60_000,
  heartbeat: { interval: 20_000, timeout: 5_000 },
  maxLifetime: 3_600_000,
  closeHandshake: 3_000,
  sendStall: 15_000,
  handlerStall: 45_000,
};

/** A channel that opened at T0, heard from the peer at T0, sends nothing and is not closing. */
function view(overrides: Partial<DeadlineView> = {}): DeadlineView {
  return {
    openedAt: T0,
    lastInboundAt: T0,
    lastDataAt: T0,
    pingSentAt: 0,
    closingAt: 0,
    readsPaused: false,
    handlerProgressAt: 0,
    sending: false,
    lastProgressAt: T0,
    ...overrides,
  };
}

function timeouts(overrides: Partial<TimeoutsConfig> = {}): TimeoutsConfig {
  return { ...TIMEOUTS, ...overrides };
}

describe('checkDeadlines boundaries', () => {
  it('answers none for a channel that just opened', () => {
    expect(checkDeadlines(view(), TIMEOUTS, T0)).toBe('none');
  });

  it('pings exactly heartbeat.interval after the last inbound frame', () => {
    const noPing = timeouts({ idle: 0 });
    expect(checkDeadlines(view(), noPing, T0 + 20_000 - 1)).toBe('none');
    expect(checkDeadlines(view(), noPing, T0 + 20_000)).toBe('ping');
  });

  it('gives up on the heartbeat exactly heartbeat.timeout after an unanswered ping', () => {
    const pinged = view({ pingSentAt: T0 + 20_000 });
    expect(checkDeadlines(pinged, TIMEOUTS, T0 + 25_000 - 1)).toBe('none');
    expect(checkDeadlines(pinged, TIMEOUTS, T0 + 25_000)).toBe('heartbeat');
  });

  it('closes for idle exactly timeouts.idle after the last inbound data frame', () => {
    const quiet = timeouts({ heartbeat: false });
    expect(checkDeadlines(view(), quiet, T0 + 60_000 - 1)).toBe('none');
    expect(checkDeadlines(view(), quiet, T0 + 60_000)).toBe('idle');
  });

  it('closes for max lifetime exactly timeouts.maxLifetime after opening', () => {
    const busy = timeouts({ idle: 0, heartbeat: false });
    expect(checkDeadlines(view(), busy, T0 + 3_600_000 - 1)).toBe('none');
    expect(checkDeadlines(view(), busy, T0 + 3_600_000)).toBe('max-lifetime');
  });

  it('terminates a stalled send exactly timeouts.sendStall after the last progress', () => {
    const stalled = view({ sending: true, lastProgressAt: T0 + 1000 });
    expect(checkDeadlines(stalled, TIMEOUTS, T0 + 16_000 - 1)).toBe('none');
    expect(checkDeadlines(stalled, TIMEOUTS, T0 + 16_000)).toBe('send-stall');
  });

  it('terminates a close exactly timeouts.closeHandshake after closing started', () => {
    const closing = view({ closingAt: T0 + 500 });
    expect(checkDeadlines(closing, TIMEOUTS, T0 + 3500 - 1)).toBe('none');
    expect(checkDeadlines(closing, TIMEOUTS, T0 + 3500)).toBe('close-handshake');
  });
});

describe('checkDeadlines heartbeat', () => {
  it('does not ping again while a ping is outstanding, even past the interval', () => {
    const slowPong = timeouts({ idle: 0, heartbeat: { interval: 1000, timeout: 5000 } });
    const pinged = view({ pingSentAt: T0 + 1000 });
    expect(checkDeadlines(pinged, slowPong, T0 + 3000)).toBe('none');
    expect(checkDeadlines(pinged, slowPong, T0 + 6000)).toBe('heartbeat');
  });

  it('counts from the answer once a ping was answered (pingSentAt back to 0)', () => {
    const answered = view({ pingSentAt: 0, lastInboundAt: T0 + 22_000, lastDataAt: T0 + 22_000 });
    expect(checkDeadlines(answered, TIMEOUTS, T0 + 25_000)).toBe('none');
    expect(checkDeadlines(answered, TIMEOUTS, T0 + 42_000 - 1)).toBe('none');
    expect(checkDeadlines(answered, TIMEOUTS, T0 + 42_000)).toBe('ping');
  });

  it('measures the ping deadline from the ping, not from the last inbound frame', () => {
    const pinged = view({ lastInboundAt: T0, pingSentAt: T0 + 50_000 });
    expect(checkDeadlines(pinged, timeouts({ idle: 0 }), T0 + 54_000)).toBe('none');
  });
});

describe('checkDeadlines idle versus heartbeat', () => {
  it('does not let pongs postpone the idle deadline', () => {
    const pongedRecently = view({ lastDataAt: T0, lastInboundAt: T0 + 59_000 });
    expect(checkDeadlines(pongedRecently, TIMEOUTS, T0 + 60_000)).toBe('idle');
  });

  it('lets a pong (any inbound frame) postpone the next ping', () => {
    const ponged = view({ lastDataAt: T0, lastInboundAt: T0 + 10_000 });
    const noIdle = timeouts({ idle: 0 });
    expect(checkDeadlines(ponged, noIdle, T0 + 30_000 - 1)).toBe('none');
    expect(checkDeadlines(ponged, noIdle, T0 + 30_000)).toBe('ping');
  });

  it('lets a data frame postpone the idle deadline', () => {
    const talked = view({ lastDataAt: T0 + 30_000, lastInboundAt: T0 + 30_000 });
    const noPing = timeouts({ heartbeat: false });
    expect(checkDeadlines(talked, noPing, T0 + 90_000 - 1)).toBe('none');
    expect(checkDeadlines(talked, noPing, T0 + 90_000)).toBe('idle');
  });
});

describe('checkDeadlines with paused reads', () => {
  const paused = { readsPaused: true, handlerProgressAt: T0 } as const;

  it('closes once no handler call finished for handlerStall since the pause or the last one', () => {
    const noLifetime = timeouts({ maxLifetime: 0 });
    expect(checkDeadlines(view(paused), noLifetime, T0 + 45_000 - 1)).toBe('none');
    expect(checkDeadlines(view(paused), noLifetime, T0 + 45_000)).toBe('handler-stall');
    const progressed = view({ ...paused, handlerProgressAt: T0 + 40_000 });
    expect(checkDeadlines(progressed, noLifetime, T0 + 85_000 - 1)).toBe('none');
    expect(checkDeadlines(progressed, noLifetime, T0 + 85_000)).toBe('handler-stall');
  });

  it('leaves a paused channel alone with handlerStall off, and ignores it while reading', () => {
    const off = timeouts({ maxLifetime: 0, handlerStall: 0, idle: 0, heartbeat: false });
    expect(checkDeadlines(view(paused), off, T0 + 3_600_000)).toBe('none');
    const reading = timeouts({ maxLifetime: 0, idle: 0, heartbeat: false });
    expect(checkDeadlines(view(), reading, T0 + 3_600_000)).toBe('none');
  });

  it('suspends the idle deadline', () => {
    const noStall = timeouts({ heartbeat: false, handlerStall: 0 });
    expect(checkDeadlines(view(paused), noStall, T0 + 600_000)).toBe('none');
  });

  it('suspends the heartbeat ping and the pong deadline', () => {
    const noIdle = timeouts({ idle: 0, handlerStall: 0 });
    expect(checkDeadlines(view(paused), noIdle, T0 + 100_000)).toBe('none');
    expect(checkDeadlines(view({ ...paused, pingSentAt: T0 }), noIdle, T0 + 100_000)).toBe('none');
  });

  it('still enforces max lifetime', () => {
    const noStall = timeouts({ sendStall: 0 });
    expect(checkDeadlines(view(paused), noStall, T0 + 3_600_000)).toBe('max-lifetime');
  });

  it('still enforces the send stall deadline', () => {
    const stalled = view({ ...paused, sending: true });
    expect(checkDeadlines(stalled, TIMEOUTS, T0 + 15_000)).toBe('send-stall');
  });

  it('still enforces the close handshake deadline', () => {
    expect(checkDeadlines(view({ ...paused, closingAt: T0 }), TIMEOUTS, T0 + 3000)).toBe(
      'close-handshake',
    );
  });
});

describe('checkDeadlines priority', () => {
  const allOverdue = view({
    lastInboundAt: T0,
    lastDataAt: T0,
    pingSentAt: T0,
    sending: true,
    lastProgressAt: T0,
  });
  const later = T0 + 10 * 3_600_000;

  it('puts the close handshake first', () => {
    expect(checkDeadlines({ ...allOverdue, closingAt: T0 }, TIMEOUTS, later)).toBe(
      'close-handshake',
    );
  });

  it('answers none while closing before the close deadline, whatever else is overdue', () => {
    expect(checkDeadlines({ ...allOverdue, closingAt: later - 1 }, TIMEOUTS, later)).toBe('none');
  });

  it('puts a stalled send before max lifetime', () => {
    expect(checkDeadlines(allOverdue, TIMEOUTS, later)).toBe('send-stall');
  });

  it('puts max lifetime before idle', () => {
    expect(checkDeadlines({ ...allOverdue, sending: false }, TIMEOUTS, later)).toBe('max-lifetime');
  });

  it('puts idle before the heartbeat', () => {
    const noLifetime = timeouts({ maxLifetime: 0 });
    expect(checkDeadlines({ ...allOverdue, sending: false }, noLifetime, later)).toBe('idle');
  });

  it('terminates on an unanswered ping when nothing ranks higher', () => {
    const heartbeatOnly = timeouts({ maxLifetime: 0, idle: 0, sendStall: 0 });
    expect(checkDeadlines(allOverdue, heartbeatOnly, later)).toBe('heartbeat');
  });
});

describe('checkDeadlines with features off', () => {
  const longAfter = T0 + 365 * 24 * 3_600_000;

  it('never pings or terminates for the heartbeat when it is false', () => {
    const off = timeouts({ idle: 0, maxLifetime: 0, heartbeat: false });
    expect(checkDeadlines(view(), off, longAfter)).toBe('none');
    expect(checkDeadlines(view({ pingSentAt: T0 }), off, longAfter)).toBe('none');
  });

  it('never closes for idle when idle is 0', () => {
    const off = timeouts({ idle: 0, maxLifetime: 0, heartbeat: false });
    expect(checkDeadlines(view(), off, longAfter)).toBe('none');
  });

  it('never closes for max lifetime when maxLifetime is 0', () => {
    const off = timeouts({ idle: 0, maxLifetime: 0, heartbeat: false });
    const active = view({ lastInboundAt: longAfter, lastDataAt: longAfter });
    expect(checkDeadlines(active, off, longAfter)).toBe('none');
  });

  it('never terminates a slow send when sendStall is 0', () => {
    const off = timeouts({ idle: 0, maxLifetime: 0, heartbeat: false, sendStall: 0 });
    expect(checkDeadlines(view({ sending: true }), off, longAfter)).toBe('none');
  });

  it('ignores a stale lastProgressAt while nothing is being sent', () => {
    const off = timeouts({ idle: 0, maxLifetime: 0, heartbeat: false });
    expect(checkDeadlines(view({ sending: false }), off, longAfter)).toBe('none');
  });

  it('works with the parsed config where false and 0 both mean off', () => {
    const { timeouts: parsed } = parseConfig({
      timeouts: { idle: false, maxLifetime: 0, sendStall: false, heartbeat: false },
    });
    expect(checkDeadlines(view({ sending: true }), parsed, longAfter)).toBe('none');
  });
});

describe('shortestTimeout', () => {
  it('is the shortest enabled duration', () => {
    expect(shortestTimeout(TIMEOUTS)).toBe(3000);
    expect(shortestTimeout(timeouts({ closeHandshake: 30_000 }))).toBe(5000);
  });

  it('is 5s (closeHandshake) for the default config', () => {
    expect(shortestTimeout(parseConfig({}).timeouts)).toBe(5000);
  });

  it('counts the heartbeat interval and timeout', () => {
    const t = timeouts({ closeHandshake: 60_000, heartbeat: { interval: 700, timeout: 900 } });
    expect(shortestTimeout(t)).toBe(700);
    expect(shortestTimeout({ ...t, heartbeat: { interval: 900, timeout: 800 } })).toBe(800);
  });

  it('skips disabled features (0 and heartbeat false)', () => {
    const t: TimeoutsConfig = {
      handshake: 9000,
      idle: 0,
      heartbeat: false,
      maxLifetime: 0,
      closeHandshake: 8000,
      sendStall: 0,
      handlerStall: 0,
    };
    expect(shortestTimeout(t)).toBe(8000);
  });

  it('is Infinity when every duration is off', () => {
    const t: TimeoutsConfig = {
      handshake: 0,
      idle: 0,
      heartbeat: false,
      maxLifetime: 0,
      closeHandshake: 0,
      sendStall: 0,
      handlerStall: 0,
    };
    expect(shortestTimeout(t)).toBe(Number.POSITIVE_INFINITY);
  });
});
