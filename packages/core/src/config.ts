import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError, type ConfigIssue } from './errors.js';
import { toBytes, toMilliseconds } from './internal/units.js';
import type { Logger } from './logger.js';

export type { DurationInput, SizeInput } from './internal/units.js';

/** What happens to a send that would push a channel's queued bytes over `maxBufferedBytes`. */
export type OverflowPolicy = 'close' | 'drop-newest' | 'drop-oldest' | 'reject';

const duration = z
  .union([z.number(), z.string()], {
    error: (issue) => expected('a duration like "30s"', issue.input),
  })
  .transform((input, ctx) => {
    const value = toMilliseconds(input);
    if (value === undefined)
      ctx.addIssue({ code: 'custom', message: expected('a duration like "30s"', input) });
    return value ?? 0;
  });

/** A duration that must be above zero: a zero deadline would fire on every tick. */
const positiveDuration = duration.refine((value) => value > 0, { error: 'must be above 0' });

/** A duration where `0` or `false` turns the feature off (parsed to 0). */
const optionalDuration = z
  .union([z.literal(false), z.number(), z.string()], {
    error: (issue) => expected('a duration like "30s"', issue.input),
  })
  .transform((input, ctx) => {
    const value = input === false ? 0 : toMilliseconds(input);
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: expected('a duration like "30s"', input) });
    }
    return value ?? 0;
  });

const size = z
  .union([z.number(), z.string()], {
    error: (issue) => expected('a size like "64kb"', issue.input),
  })
  .transform((input, ctx) => {
    const value = toBytes(input);
    if (value === undefined)
      ctx.addIssue({ code: 'custom', message: expected('a size like "64kb"', input) });
    return value ?? 0;
  });

const count = z.number().int().nonnegative();
const closeCode = z
  .number()
  .int()
  .refine(
    (code) =>
      (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) ||
      (code >= 3000 && code <= 4999),
    {
      error: 'expected a close code a peer may receive (1000-1003, 1007-1014, 3000-4999)',
    },
  );

const rateLimitSchema = z.union([
  z.literal(false),
  z.strictObject({
    /** Messages allowed per `interval`, refilled continuously (token bucket). */
    messages: z.number().int().positive(),
    /** @default "1s" */
    interval: duration.default(1000),
    /** Bucket size: how many messages may arrive at once. @default messages */
    burst: z.number().int().positive().optional(),
    /** `close` (1008) or `drop` the excess messages. @default "close" */
    action: z.enum(['close', 'drop']).default('close'),
  }),
]);

const limitsSchema = z.strictObject({
  /** Largest inbound message, in bytes (ws's `maxPayload`). @default "1mb" */
  maxPayload: size.default(1024 * 1024),
  /** Open plus pending connections per hub; 0 = no cap. Over it: HTTP 503. @default 10000 */
  maxConnections: count.default(10_000),
  /** Open plus pending connections per client IP; 0 = no cap. Over it: HTTP 429. @default 256 */
  maxConnectionsPerIp: count.default(256),
  /** Decoded messages waiting for the handler before reads pause. @default 64 */
  inboundQueue: z.number().int().positive().default(64),
  /** Per-channel inbound message rate; `false` = off. @default { messages: 1000, interval: "1s", action: "close" } */
  rateLimit: rateLimitSchema.default({ messages: 1000, interval: 1000, action: 'close' }),
  /** Frames one inbound message may arrive in (ws's `maxFragments`); 0 = no cap. Over it: close 1008. @default 1024 */
  maxFragments: count.default(1024),
  /**
   * Socket reads ws may hold for one unfinished frame (ws's `maxBufferedChunks`), so a peer that
   * trickles a frame byte by byte cannot make it keep one buffer per byte; 0 = no cap. Over it:
   * close 1008. @default 16384
   */
  maxBufferedChunks: count.default(16_384),
  /** Pongs owed to the peer's pings and not yet flushed (ws's `maxPendingAutoPongs`); 0 = no cap. Over it: terminate. @default 60 */
  maxPendingPongs: count.default(60),
});

const backpressureSchema = z.strictObject({
  /** Under this many queued bytes a `send` resolves once handed to the socket. @default "64kb" */
  highWaterMark: size.default(64 * 1024),
  /** Hard cap of queued bytes (lane + socket buffer) per channel. @default "2mb" */
  maxBufferedBytes: size.default(2 * 1024 * 1024),
  /** @default "close" */
  overflow: z.enum(['close', 'drop-newest', 'drop-oldest', 'reject']).default('close'),
});

const heartbeatSchema = z
  .union([
    z.literal(false),
    z.literal(0),
    z.strictObject({
      /** Ping a peer that has been quiet this long. @default "30s" */
      interval: positiveDuration.default(30_000),
      /** Terminate when nothing arrives this long after a ping. @default "10s" */
      timeout: positiveDuration.default(10_000),
    }),
  ])
  .transform((value) => (value === 0 ? false : value));

const timeoutsSchema = z.strictObject({
  /** Upgrade request (and raw TCP connection) to open. @default "10s" */
  handshake: positiveDuration.default(10_000),
  /** No inbound data frame for this long: close with `closeCodes.idle`; 0/false = off. @default false */
  idle: optionalDuration.default(0),
  /** @default { interval: "30s", timeout: "10s" } */
  heartbeat: heartbeatSchema.default({ interval: 30_000, timeout: 10_000 }),
  /** Close with `closeCodes.maxLifetime` after this long; 0/false = off. @default false */
  maxLifetime: optionalDuration.default(0),
  /** From `close()` to a closed socket; terminate after. @default "5s" */
  closeHandshake: positiveDuration.default(5_000),
  /** Queued bytes that make no progress this long: terminate; 0/false = off. @default "30s" */
  sendStall: optionalDuration.default(30_000),
  /**
   * Reads paused by a full inbound queue and no handler call finished for this long: close with
   * 1011; 0/false = off. @default "60s"
   */
  handlerStall: optionalDuration.default(60_000),
});

const closeCodesSchema = z.strictObject({
  /** @default 4408 */
  idle: closeCode.default(4408),
  /** @default 4001 */
  maxLifetime: closeCode.default(4001),
  /** A newer connection took this channel's session key. @default 4409 */
  replaced: closeCode.default(4409),
  /** Outbound queue over `maxBufferedBytes` with policy `close`. @default 1013 */
  overflow: closeCode.default(1013),
  /** Hub shutdown. @default 1001 */
  shutdown: closeCode.default(1001),
  /** Rate limit exceeded with action `close`. @default 1008 */
  rateLimit: closeCode.default(1008),
});

/** Settings a route may override; they shape every channel of that route. */
const channelShape = {
  limits: limitsSchema.default(() => limitsSchema.parse({})),
  backpressure: backpressureSchema.default(() => backpressureSchema.parse({})),
  timeouts: timeoutsSchema.default(() => timeoutsSchema.parse({})),
  closeCodes: closeCodesSchema.default(() => closeCodesSchema.parse({})),
  /** Subprotocols offered, in preference order; the first one the client also offers wins. @default [] */
  protocols: z.array(z.string().min(1)).default([]),
  /** Browser origins allowed besides same-origin and Origin-less clients; "*" allows all. @default [] */
  origins: z.array(z.string().min(1)).default([]),
  /** Handler calls of one channel that may run at once. @default 1 */
  concurrency: z.number().int().positive().default(1),
  /** A second open channel with the same session key: `replace` the old one or `refuse` (409). @default "replace" */
  duplicateKey: z.enum(['replace', 'refuse']).default('replace'),
};

/** The hub config schema: every option, with its default. */
export const hubConfigSchema = z
  .strictObject({
    ...channelShape,
    /** Proxy hops whose X-Forwarded-For entries are trusted for the client IP. @default 0 */
    trustProxy: count.default(0),
    /** Unclaimed upgrades get 404 after this long when other 'upgrade' listeners exist. @default "1s" */
    unclaimedUpgradeGrace: duration.default(1000),
    /** Receives warnings and errors; silent when absent. */
    logger: z
      .custom<Logger>(isLogger, { error: 'expected a logger with debug/info/warn/error methods' })
      .optional(),
  })
  .refine((config) => config.backpressure.highWaterMark <= config.backpressure.maxBufferedBytes, {
    path: ['backpressure', 'highWaterMark'],
    error: 'must not exceed backpressure.maxBufferedBytes',
    // Runs even when other fields failed, so every problem is listed at once.
    when: (payload) => {
      const backpressure = (payload.value as { backpressure?: Record<string, unknown> })
        .backpressure;
      return (
        typeof backpressure?.highWaterMark === 'number' &&
        typeof backpressure.maxBufferedBytes === 'number'
      );
    },
  });

/** What a user writes: every field optional, durations and sizes as numbers or strings. */
export type HubOptions = z.input<typeof hubConfigSchema>;
/** The validated hub config, defaults applied, durations in ms and sizes in bytes. */
export type HubConfig = z.output<typeof hubConfigSchema>;
/**
 * Fields of the overridable sections that only the hub can set: the connection cap counts every
 * route's channels, and the handshake deadline runs before the route is known.
 */
const HUB_ONLY_FIELDS = { limits: 'maxConnections', timeouts: 'handshake' } as const;
type HubOnlyField<K> = K extends keyof typeof HUB_ONLY_FIELDS ? (typeof HUB_ONLY_FIELDS)[K] : never;

/** Per-route overrides of the hub config. */
export type RouteOptions = {
  [K in keyof typeof channelShape]?: K extends
    | 'protocols'
    | 'origins'
    | 'concurrency'
    | 'duplicateKey'
    ? HubOptions[K]
    : Omit<Partial<NonNullable<HubOptions[K]>>, HubOnlyField<K>>;
};
/** The settings one channel runs with: the hub config with its route's overrides applied. */
export type ChannelConfig = Pick<HubConfig, keyof typeof channelShape>;

/**
 * Validates a hub config and applies defaults.
 *
 * @throws {ConfigError} `WSLANE_CONFIG_INVALID`, listing every problem by path.
 * @example
 * ```ts
 * const config = parseConfig({ timeouts: { idle: '60s' }, backpressure: { maxBufferedBytes: '4mb' } });
 * ```
 */
export function parseConfig(input: unknown = {}, pathPrefix = ''): HubConfig {
  const result = hubConfigSchema.safeParse(input ?? {});
  if (result.success) return result.data;
  throw new ConfigError(toConfigIssues(result.error, pathPrefix), { cause: result.error });
}

/**
 * Reads a JSON file and validates it like {@link parseConfig}.
 *
 * @throws {ConfigError} `WSLANE_CONFIG_INVALID` for unreadable files, bad JSON and bad fields.
 */
export async function loadConfig(path: string): Promise<HubConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError([{ path: '', message: `cannot read ${path}` }], { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([{ path: '', message: `${path} is not valid JSON` }], { cause: error });
  }
  return parseConfig(json);
}

/**
 * Applies a route's overrides to the hub config (the hub's raw options merged under the route's,
 * then validated as one), so a route is checked by the same schema and reported by path.
 *
 * @throws {ConfigError} `WSLANE_CONFIG_INVALID` with paths under `pathPrefix`, also for a field
 * only the hub can set (`limits.maxConnections`, `timeouts.handshake`) rather than ignoring it.
 */
export function resolveChannelConfig(
  hubOptions: HubOptions,
  overrides: RouteOptions | undefined,
  pathPrefix: string,
): ChannelConfig {
  if (overrides === undefined) return parseConfig(hubOptions);
  const hubOnly = hubOnlyOverrides(overrides, pathPrefix);
  if (hubOnly.length > 0) throw new ConfigError(hubOnly);
  return parseConfig(mergeOptions(hubOptions, overrides), pathPrefix);
}

function hubOnlyOverrides(overrides: RouteOptions, pathPrefix: string): ConfigIssue[] {
  return Object.entries(HUB_ONLY_FIELDS).flatMap(([section, field]) => {
    const value = (overrides as Record<string, unknown>)[section];
    if (!isPlainObject(value) || value[field] === undefined) return [];
    return [
      {
        path: joinPath(pathPrefix, [section, field]),
        message: 'set it on the hub: a route cannot override it',
      },
    ];
  });
}

/** Deep merge of plain objects; `undefined` in an override keeps the base value. */
function mergeOptions(base: HubOptions, overrides: RouteOptions): HubOptions {
  return mergeObjects(base as Record<string, unknown>, overrides as Record<string, unknown>);
}

function mergeObjects(
  base: Record<string, unknown>,
  overrides: Record<string, unknown>,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const current = merged[key];
    merged[key] =
      isPlainObject(value) && isPlainObject(current) ? mergeObjects(current, value) : value;
  }
  return merged;
}

function toConfigIssues(error: z.ZodError, pathPrefix: string): ConfigIssue[] {
  return flattenIssues(error.issues, []).map((issue) => ({
    path: joinPath(pathPrefix, issue.path),
    message: issue.message,
  }));
}

/**
 * A union like `false | { interval, timeout }` reports "Invalid input"; when only one branch
 * got past the type check (the object), its own issues say what is wrong, so report those.
 */
function flattenIssues(
  issues: readonly z.core.$ZodIssue[],
  base: readonly PropertyKey[],
): { path: PropertyKey[]; message: string }[] {
  return issues.flatMap((issue) => {
    const path = [...base, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...path, key], message: 'unknown option' }));
    }
    if (issue.code === 'invalid_union') {
      const relevant = issue.errors.filter((branch) => !branch.every(isShallowMismatch));
      if (relevant.length === 1 && relevant[0]) return flattenIssues(relevant[0], path);
    }
    return [{ path, message: issue.message }];
  });
}

function isShallowMismatch(issue: z.core.$ZodIssue): boolean {
  return (
    issue.path.length === 0 && (issue.code === 'invalid_type' || issue.code === 'invalid_value')
  );
}

function joinPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

function expected(what: string, input: unknown): string {
  return `expected ${what}, got ${describeInput(input)}`;
}

function describeInput(input: unknown): string {
  if (input === undefined) return 'nothing';
  const text = typeof input === 'number' ? String(input) : (JSON.stringify(input) ?? String(input));
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isLogger(value: unknown): value is Logger {
  if (typeof value !== 'object' || value === null) return false;
  const logger = value as Record<string, unknown>;
  return ['debug', 'info', 'warn', 'error'].every((level) => typeof logger[level] === 'function');
}
