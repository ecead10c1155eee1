import { describe, expect, it } from 'vitest';
import { type HubOptions, parseConfig, resolveChannelConfig } from './config.js';
import { configErrorOf, pathsOf } from './test-helpers/config-errors.js';

describe('resolveChannelConfig', () => {
  const hub: HubOptions = {
    limits: { maxPayload: '64kb', inboundQueue: 8 },
    timeouts: { idle: '30s', maxLifetime: '1h' },
    protocols: ['v2', 'v1'],
    trustProxy: 1,
  };

  it('equals the hub config when the route has no overrides', () => {
    expect(resolveChannelConfig(hub, undefined, 'routes["/chat"]')).toEqual(parseConfig(hub));
  });

  it('merges a section field by field: overridden fields from the route, others from the hub', () => {
    const config = resolveChannelConfig(
      hub,
      { limits: { maxPayload: '2kb' }, timeouts: { idle: '5s' } },
      'routes["/chat"]',
    );
    expect(config.limits.maxPayload).toBe(2048);
    expect(config.limits.inboundQueue).toBe(8);
    expect(config.timeouts.idle).toBe(5000);
    expect(config.timeouts.maxLifetime).toBe(3_600_000);
    expect(config.protocols).toEqual(['v2', 'v1']);
  });

  it('replaces arrays and scalars instead of merging them', () => {
    const config = resolveChannelConfig(
      hub,
      { protocols: ['v3'], concurrency: 4 },
      'routes["/chat"]',
    );
    expect(config.protocols).toEqual(['v3']);
    expect(config.concurrency).toBe(4);
  });

  it('merges a nested heartbeat override field by field over the hub heartbeat', () => {
    const config = resolveChannelConfig(
      { timeouts: { heartbeat: { interval: '5s', timeout: '2s' } } },
      { timeouts: { heartbeat: { timeout: '1s' } } },
      'routes["/chat"]',
    );
    expect(config.timeouts.heartbeat).toEqual({ interval: 5000, timeout: 1000 });
  });

  it('merges a nested rateLimit override field by field over the hub rateLimit', () => {
    const config = resolveChannelConfig(
      { limits: { rateLimit: { messages: 5, action: 'drop' } } },
      { limits: { rateLimit: { messages: 10 } } },
      'routes["/chat"]',
    );
    expect(config.limits.rateLimit).toEqual({ messages: 10, interval: 1000, action: 'drop' });
  });

  it('lets a route turn the heartbeat off and back on', () => {
    const off = resolveChannelConfig(hub, { timeouts: { heartbeat: false } }, 'routes["/a"]');
    expect(off.timeouts.heartbeat).toBe(false);
    const on = resolveChannelConfig(
      { timeouts: { heartbeat: false } },
      { timeouts: { heartbeat: { interval: '1s' } } },
      'routes["/b"]',
    );
    expect(on.timeouts.heartbeat).toEqual({ interval: 1000, timeout: 10_000 });
  });

  it('keeps the hub value where an override is undefined', () => {
    const config = resolveChannelConfig(
      hub,
      { timeouts: undefined, limits: { maxPayload: undefined } },
      'routes["/chat"]',
    );
    expect(config.timeouts.idle).toBe(30_000);
    expect(config.limits.maxPayload).toBe(65_536);
  });

  it.each([
    [{ limits: { maxConnections: 10 } }, 'routes["/chat"].limits.maxConnections'],
    [{ timeouts: { handshake: '2s' } }, 'routes["/chat"].timeouts.handshake'],
  ])(
    'refuses a hub-only field in a route override instead of ignoring it: %j',
    (override, path) => {
      const error = configErrorOf(() =>
        // @ts-expect-error the type leaves the hub-only fields out of RouteOptions
        resolveChannelConfig(hub, override, 'routes["/chat"]'),
      );
      expect(error.code).toBe('WSLANE_CONFIG_INVALID');
      expect(error.issues).toEqual([
        { path, message: 'set it on the hub: a route cannot override it' },
      ]);
    },
  );

  it('does not change the hub options it merges into', () => {
    const options: HubOptions = { limits: { maxPayload: '64kb' } };
    resolveChannelConfig(options, { limits: { maxPayload: '1kb' } }, 'routes["/chat"]');
    expect(options).toEqual({ limits: { maxPayload: '64kb' } });
  });

  it('reports bad overrides under the given path prefix', () => {
    const overrides = {
      limits: { maxPayload: 'x' },
      timeouts: { bogus: 1 },
    } as unknown as Parameters<typeof resolveChannelConfig>[1];
    const error = configErrorOf(() => resolveChannelConfig(hub, overrides, 'routes["/chat"]'));
    expect(pathsOf(error)).toEqual([
      'routes["/chat"].limits.maxPayload',
      'routes["/chat"].timeouts.bogus',
    ]);
  });

  it('reports a route highWaterMark over the hub maxBufferedBytes under the prefix', () => {
    const error = configErrorOf(() =>
      resolveChannelConfig(
        { backpressure: { maxBufferedBytes: '128kb' } },
        { backpressure: { highWaterMark: '256kb' } },
        'routes["/chat"]',
      ),
    );
    expect(pathsOf(error)).toEqual(['routes["/chat"].backpressure.highWaterMark']);
  });
});
