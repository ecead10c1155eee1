import { describe, expect, it } from 'vitest';
import { type HubOptions, parseConfig } from './config.js';
import { toBytes, toMilliseconds } from './internal/units.js';
import { configErrorOf, pathsOf } from './test-helpers/config-errors.js';

describe('durations', () => {
  it('refuses a zero handshake, close handshake or heartbeat deadline (it would fire every tick)', () => {
    const error = configErrorOf(() =>
      parseConfig({ timeouts: { handshake: 0, closeHandshake: '0s', heartbeat: { interval: 0 } } }),
    );
    expect(pathsOf(error)).toEqual([
      'timeouts.closeHandshake',
      'timeouts.handshake',
      'timeouts.heartbeat.interval',
    ]);
  });

  it('reads 0 as 0 ms where zero is meaningful', () => {
    const config = parseConfig({ unclaimedUpgradeGrace: 0, timeouts: { idle: 0 } });
    expect(config.unclaimedUpgradeGrace).toBe(0);
    expect(config.timeouts.idle).toBe(0);
  });

  it.each([
    [1234, 1234],
    ['250ms', 250],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['5m', 300_000],
    ['2h', 7_200_000],
  ])('reads %j as %d ms', (input, expected) => {
    const config = parseConfig({
      timeouts: { handshake: input, idle: input, heartbeat: { interval: input, timeout: input } },
      unclaimedUpgradeGrace: input,
      limits: { rateLimit: { messages: 1, interval: input } },
    });
    expect(config.timeouts.handshake).toBe(expected);
    expect(config.timeouts.idle).toBe(expected);
    expect(config.timeouts.heartbeat).toEqual({ interval: expected, timeout: expected });
    expect(config.unclaimedUpgradeGrace).toBe(expected);
    expect(config.limits.rateLimit).toMatchObject({ interval: expected });
  });

  it.each([
    ['"soon"', 'soon'],
    ['"-1s"', '-1s'],
    ['-5', -5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['true', true],
    ['{}', {}],
  ])('refuses %s by path', (_label, input) => {
    const error = configErrorOf(() =>
      parseConfig({ timeouts: { handshake: input, maxLifetime: input } }),
    );
    expect(pathsOf(error)).toEqual(['timeouts.handshake', 'timeouts.maxLifetime']);
  });

  it('refuses an empty duration string with a ConfigError instead of crashing', () => {
    const error = configErrorOf(() => parseConfig({ timeouts: { handshake: '', idle: '' } }));
    expect(pathsOf(error)).toEqual(['timeouts.handshake', 'timeouts.idle']);
  });

  it('names the field and what was expected in the message of a bad idle duration', () => {
    const error = configErrorOf(() => parseConfig({ timeouts: { idle: 'soon' } }));
    expect(error.message).toContain('timeouts.idle');
    expect(error.message).toContain('expected a duration like "30s", got "soon"');
  });
});

describe('sizes', () => {
  it.each([
    [4096, 4096],
    ['100b', 100],
    ['64kb', 65_536],
    ['1.5kb', 1536],
    ['1mb', 1_048_576],
    ['1MB', 1_048_576],
    ['2 mb', 2_097_152],
  ])('reads %j as %d bytes', (input, expected) => {
    const config = parseConfig({
      limits: { maxPayload: input },
      backpressure: { highWaterMark: input, maxBufferedBytes: input },
    });
    expect(config.limits.maxPayload).toBe(expected);
    expect(config.backpressure.highWaterMark).toBe(expected);
    expect(config.backpressure.maxBufferedBytes).toBe(expected);
  });

  it.each([
    ['"lots"', 'lots'],
    ['"-1kb"', '-1kb'],
    ['-1', -1],
    ['""', ''],
    ['NaN', Number.NaN],
    ['false', false],
  ])('refuses %s by path', (_label, input) => {
    const error = configErrorOf(() => parseConfig({ limits: { maxPayload: input } }));
    expect(pathsOf(error)).toEqual(['limits.maxPayload']);
  });

  it.each(['1 MiB', '64k', '12abc'])(
    'refuses %j instead of reading only its leading number as bytes',
    (input) => {
      const error = configErrorOf(() => parseConfig({ limits: { maxPayload: input } }));
      expect(pathsOf(error)).toEqual(['limits.maxPayload']);
    },
  );
});

describe('toMilliseconds and toBytes', () => {
  it('convert numbers and unit strings', () => {
    expect(toMilliseconds(1.4)).toBe(1);
    expect(toMilliseconds('30s')).toBe(30_000);
    expect(toBytes(10.9)).toBe(10);
    expect(toBytes('64kb')).toBe(65_536);
  });

  it('answer undefined for negative, non-finite and unparseable input', () => {
    for (const input of [-1, Number.NaN, Number.POSITIVE_INFINITY, 'soon', '-2s']) {
      expect(toMilliseconds(input)).toBeUndefined();
    }
    for (const input of [-1, Number.NaN, Number.POSITIVE_INFINITY, 'lots', '-2kb']) {
      expect(toBytes(input)).toBeUndefined();
    }
  });

  it('answer undefined for an empty string instead of throwing', () => {
    expect(() => toMilliseconds('')).not.toThrow();
    expect(toMilliseconds('')).toBeUndefined();
    expect(toBytes('')).toBeUndefined();
  });
});

describe('turning features off', () => {
  it.each([false, 0])('parses idle, maxLifetime and sendStall set to %j as 0 (off)', (off) => {
    const { timeouts } = parseConfig({
      timeouts: { idle: off, maxLifetime: off, sendStall: off },
    });
    expect(timeouts.idle).toBe(0);
    expect(timeouts.maxLifetime).toBe(0);
    expect(timeouts.sendStall).toBe(0);
  });

  it('parses heartbeat: false as false', () => {
    expect(parseConfig({ timeouts: { heartbeat: false } }).timeouts.heartbeat).toBe(false);
  });

  it('parses heartbeat: 0 as false like the other timeouts', () => {
    const options = { timeouts: { heartbeat: 0 } } as unknown as HubOptions;
    expect(parseConfig(options).timeouts.heartbeat).toBe(false);
  });

  it('parses rateLimit: false as false', () => {
    expect(parseConfig({ limits: { rateLimit: false } }).limits.rateLimit).toBe(false);
  });

  it('refuses false for a timeout that cannot be turned off', () => {
    const error = configErrorOf(() =>
      parseConfig({ timeouts: { handshake: false, closeHandshake: false } }),
    );
    expect(pathsOf(error)).toEqual(['timeouts.closeHandshake', 'timeouts.handshake']);
  });
});
