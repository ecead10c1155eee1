import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  type HubOptions,
  hubConfigSchema,
  loadConfig,
  parseConfig,
  resolveChannelConfig,
} from './config.js';
import { ConfigError } from './errors.js';
import { toBytes, toMilliseconds } from './internal/units.js';

const DEFAULT_CONFIG = {
  limits: {
    maxPayload: 1024 * 1024,
    maxConnections: 10_000,
    maxConnectionsPerIp: 256,
    inboundQueue: 64,
    rateLimit: { messages: 1000, interval: 1000, action: 'close' },
    maxFragments: 1024,
    maxBufferedChunks: 16_384,
    maxPendingPongs: 60,
  },
  backpressure: { highWaterMark: 64 * 1024, maxBufferedBytes: 2 * 1024 * 1024, overflow: 'close' },
  timeouts: {
    handshake: 10_000,
    idle: 0,
    heartbeat: { interval: 30_000, timeout: 10_000 },
    maxLifetime: 0,
    closeHandshake: 5_000,
    sendStall: 30_000,
    handlerStall: 60_000,
  },
  closeCodes: {
    idle: 4408,
    maxLifetime: 4001,
    replaced: 4409,
    overflow: 1013,
    shutdown: 1001,
    rateLimit: 1008,
  },
  protocols: [],
  origins: [],
  concurrency: 1,
  duplicateKey: 'replace',
  trustProxy: 0,
  unclaimedUpgradeGrace: 1000,
};

function configErrorOf(run: () => unknown): ConfigError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const error = caught as ConfigError;
  expect(error.code).toBe('WSLANE_CONFIG_INVALID');
  return error;
}

async function configErrorOfAsync(run: () => Promise<unknown>): Promise<ConfigError> {
  const caught = await run().then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(caught).toBeInstanceOf(ConfigError);
  const error = caught as ConfigError;
  expect(error.code).toBe('WSLANE_CONFIG_INVALID');
  return error;
}

function pathsOf(error: ConfigError): string[] {
  return error.issues.map((issue) => issue.path).sort();
}

describe('parseConfig defaults', () => {
  it('fills every option with its default from an empty object', () => {
    expect(parseConfig({})).toEqual(DEFAULT_CONFIG);
  });

  it('treats a missing, undefined or null config as an empty one', () => {
    expect(parseConfig()).toEqual(DEFAULT_CONFIG);
    expect(parseConfig(undefined)).toEqual(DEFAULT_CONFIG);
    expect(parseConfig(null)).toEqual(DEFAULT_CONFIG);
  });

  it("defaults maxPayload to 1 MiB instead of ws's 100 MiB", () => {
    expect(parseConfig({}).limits.maxPayload).toBe(1_048_576);
  });

  it("sets ws's own frame limits explicitly, below ws's defaults", () => {
    const { limits } = parseConfig({});
    expect(limits.maxFragments).toBe(1024);
    expect(limits.maxBufferedChunks).toBe(16_384);
    expect(limits.maxPendingPongs).toBe(60);
    const error = configErrorOf(() =>
      parseConfig({ limits: { maxFragments: -1, maxBufferedChunks: 1.5, maxPendingPongs: '8' } }),
    );
    expect(pathsOf(error)).toEqual([
      'limits.maxBufferedChunks',
      'limits.maxFragments',
      'limits.maxPendingPongs',
    ]);
  });

  it('turns the heartbeat on by default and leaves idle and max lifetime off', () => {
    const { timeouts } = parseConfig({});
    expect(timeouts.heartbeat).toEqual({ interval: 30_000, timeout: 10_000 });
    expect(timeouts.idle).toBe(0);
    expect(timeouts.maxLifetime).toBe(0);
  });

  it('fills the defaults of a section given only in part', () => {
    const config = parseConfig({
      timeouts: { idle: '1m' },
      limits: { rateLimit: { messages: 5 } },
    });
    expect(config.timeouts).toEqual({ ...DEFAULT_CONFIG.timeouts, idle: 60_000 });
    expect(config.limits.rateLimit).toEqual({ messages: 5, interval: 1000, action: 'close' });
  });

  it('is what hubConfigSchema itself produces', () => {
    expect(hubConfigSchema.parse({ timeouts: { idle: '5s' } })).toEqual(
      parseConfig({ timeouts: { idle: '5s' } }),
    );
  });

  it('keeps a logger that has debug, info, warn and error methods', () => {
    const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    expect(parseConfig({ logger }).logger).toBe(logger);
  });
});

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

describe('invalid config', () => {
  it('lists every bad field with its dotted path, not only the first', () => {
    const error = configErrorOf(() =>
      parseConfig({
        limits: { maxPayload: 'big', inboundQueue: 0 },
        timeouts: { idle: 'soon', heartbeat: { interval: 'often' } },
        concurrency: 0,
        duplicateKey: 'ignore',
      }),
    );
    expect(pathsOf(error)).toEqual([
      'concurrency',
      'duplicateKey',
      'limits.inboundQueue',
      'limits.maxPayload',
      'timeouts.heartbeat.interval',
      'timeouts.idle',
    ]);
  });

  it('keeps the ZodError as the cause', () => {
    const error = configErrorOf(() => parseConfig({ timeouts: { idle: 'soon' } }));
    expect(error.cause).toBeInstanceOf(z.ZodError);
  });

  it('reports unknown options by path at every level', () => {
    const error = configErrorOf(() =>
      parseConfig({
        bogus: 1,
        timeouts: { idel: '5s', heartbeat: { intervall: '5s' } },
        limits: { rateLimit: { messages: 5, window: '1s' } },
      }),
    );
    expect(pathsOf(error)).toEqual([
      'bogus',
      'limits.rateLimit.window',
      'timeouts.heartbeat.intervall',
      'timeouts.idel',
    ]);
  });

  it('reports a heartbeat that is neither false nor an object at timeouts.heartbeat', () => {
    const error = configErrorOf(() => parseConfig({ timeouts: { heartbeat: 'soon' } }));
    expect(pathsOf(error)).toEqual(['timeouts.heartbeat']);
  });

  it('reports a highWaterMark over maxBufferedBytes at backpressure.highWaterMark', () => {
    const error = configErrorOf(() =>
      parseConfig({ backpressure: { highWaterMark: '4mb', maxBufferedBytes: '1mb' } }),
    );
    expect(pathsOf(error)).toEqual(['backpressure.highWaterMark']);
  });

  it('accepts a highWaterMark equal to maxBufferedBytes', () => {
    const config = parseConfig({ backpressure: { highWaterMark: '1mb', maxBufferedBytes: '1mb' } });
    expect(config.backpressure.highWaterMark).toBe(config.backpressure.maxBufferedBytes);
  });

  it('reports a highWaterMark over maxBufferedBytes alongside other bad fields', () => {
    const error = configErrorOf(() =>
      parseConfig({ backpressure: { highWaterMark: '4mb' }, timeouts: { idle: 'soon' } }),
    );
    expect(pathsOf(error)).toEqual(['backpressure.highWaterMark', 'timeouts.idle']);
  });

  it('refuses close codes a peer may not receive (1005, 1006, 999, 5000 and more)', () => {
    const error = configErrorOf(() =>
      parseConfig({
        closeCodes: {
          idle: 1005,
          maxLifetime: 1006,
          replaced: 999,
          overflow: 5000,
          shutdown: 1004,
          rateLimit: 1015,
        },
      }),
    );
    expect(pathsOf(error)).toEqual([
      'closeCodes.idle',
      'closeCodes.maxLifetime',
      'closeCodes.overflow',
      'closeCodes.rateLimit',
      'closeCodes.replaced',
      'closeCodes.shutdown',
    ]);
  });

  it.each([2999, 4000.5, '4000'])('refuses close code %j', (code) => {
    const error = configErrorOf(() => parseConfig({ closeCodes: { idle: code } }));
    expect(pathsOf(error)).toEqual(['closeCodes.idle']);
  });

  it.each([1000, 1003, 1007, 1014, 3000, 4999])('accepts close code %d', (code) => {
    expect(parseConfig({ closeCodes: { idle: code } }).closeCodes.idle).toBe(code);
  });

  it('reports bad array entries with their index', () => {
    const error = configErrorOf(() => parseConfig({ protocols: ['chat', ''], origins: [42] }));
    expect(pathsOf(error)).toEqual(['origins[0]', 'protocols[1]']);
  });

  it('refuses negative or fractional counts', () => {
    const error = configErrorOf(() =>
      parseConfig({
        limits: { maxConnections: -1, maxConnectionsPerIp: 1.5 },
        trustProxy: -1,
        backpressure: { overflow: 'explode' },
      }),
    );
    expect(pathsOf(error)).toEqual([
      'backpressure.overflow',
      'limits.maxConnections',
      'limits.maxConnectionsPerIp',
      'trustProxy',
    ]);
  });

  it('refuses a logger without the four log methods', () => {
    const error = configErrorOf(() => parseConfig({ logger: { info: () => {} } }));
    expect(pathsOf(error)).toEqual(['logger']);
  });

  it('reports a config that is not an object at the root path', () => {
    const error = configErrorOf(() => parseConfig('timeouts'));
    expect(error.issues.map((issue) => issue.path)).toEqual(['']);
  });

  it('puts the path prefix in front of every issue path', () => {
    const error = configErrorOf(() =>
      parseConfig({ limits: { maxPayload: 'x' }, protocols: [''] }, 'routes["/ws"]'),
    );
    expect(pathsOf(error)).toEqual([
      'routes["/ws"].limits.maxPayload',
      'routes["/ws"].protocols[0]',
    ]);
  });
});

describe('loadConfig', () => {
  let dir = '';

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wslane-config-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function fileWith(text: string): Promise<string> {
    const path = join(dir, 'wslane.json');
    await writeFile(path, text, 'utf8');
    return path;
  }

  it('reads and validates a JSON file like parseConfig', async () => {
    const options = { timeouts: { idle: '30s' }, limits: { maxPayload: '64kb' } };
    const path = await fileWith(JSON.stringify(options));
    await expect(loadConfig(path)).resolves.toEqual(parseConfig(options));
  });

  it('rejects a file that is not valid JSON with a ConfigError', async () => {
    const path = await fileWith('{ "timeouts": ');
    const error = await configErrorOfAsync(() => loadConfig(path));
    expect(error.issues).toHaveLength(1);
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it('rejects a missing file with a ConfigError that keeps the fs error', async () => {
    const error = await configErrorOfAsync(() => loadConfig(join(dir, 'missing.json')));
    expect(error.issues).toHaveLength(1);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('rejects a file with bad fields, listing each by path', async () => {
    const path = await fileWith(
      JSON.stringify({ timeouts: { idle: 'soon' }, limits: { maxPayload: 'big' }, extra: true }),
    );
    const error = await configErrorOfAsync(() => loadConfig(path));
    expect(pathsOf(error)).toEqual(['extra', 'limits.maxPayload', 'timeouts.idle']);
  });
});

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
