import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { hubConfigSchema, loadConfig, parseConfig } from './config.js';
import { configErrorOf, configErrorOfAsync, pathsOf } from './test-helpers/config-errors.js';

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
