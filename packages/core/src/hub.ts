import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Channel } from './channel.js';
import { ChannelManager, type ManagerStats } from './channel-manager.js';
import {
  type ChannelConfig,
  type DurationInput,
  type HubConfig,
  type HubOptions,
  parseConfig,
  resolveChannelConfig,
} from './config.js';
import type { WslaneErrorCode } from './errors.js';
import { createChannelId } from './internal/channel-id.js';
import { toCloseFrame } from './internal/close-frame.js';
import { writeRefusal } from './internal/http-refusal.js';
import { SharedClock } from './internal/shared-clock.js';
import { toMilliseconds } from './internal/units.js';
import { clientIpOf, isOriginAllowed, pathnameOf } from './internal/upgrade-request.js';
import { type Logger, silentLogger } from './logger.js';
import { OpenChannel } from './open-channel.js';
import { PendingUpgrade, type UpgradeHeaders, type UpgradeHost } from './pending-upgrade.js';
import type { Route } from './route.js';
import { shortestTimeout } from './timeout-policy.js';
import { WsHandshakes } from './ws-handshakes.js';

// biome-ignore lint/suspicious/noExplicitAny: a hub serves routes of any message types.
type AnyRoute = Route<any, any, any>;

/** Options of {@link Hub.close}. */
export interface HubCloseOptions {
  /** @default closeCodes.shutdown (1001) */
  readonly code?: number;
  /** @default "server shutting down" */
  readonly reason?: string;
  /** Terminate whoever has not closed by then. @default timeouts.closeHandshake */
  readonly timeout?: DurationInput;
}

/** Hub-wide stats, as plain JSON. */
export interface HubStats extends ManagerStats {
  state: 'open' | 'closing' | 'closed';
  /** Timers the hub holds right now (its shared clock: 0 or 1). */
  timers: number;
}

/** A route with the function that builds its channels' context from the upgrade request. */
export interface RouteBinding<TContext = unknown> {
  // biome-ignore lint/suspicious/noExplicitAny: any message types; the context type is checked.
  readonly route: Route<any, any, TContext>;
  /**
   * Runs before the handshake; throw {@link upgradeRefusal} to answer with an HTTP error.
   * Headers it adds to `headers` (e.g. `Set-Cookie`) go out with the 101.
   */
  readonly context?: (
    req: IncomingMessage,
    headers: Record<string, string | string[]>,
  ) => TContext | Promise<TContext>;
}

/** Path → route (or route binding), for {@link Hub.attach}. */
// biome-ignore lint/suspicious/noExplicitAny: each binding has its own context type.
export type RouteTable = Readonly<Record<string, AnyRoute | RouteBinding<any>>>;

/**
 * One per server: the parsed config, the `ws` servers (noServer mode), the channel manager and
 * the shared clock. Frameworks reach it through their adapter; plain `node:http` through `attach`.
 */
export class Hub {
  readonly config: HubConfig;
  readonly channels: ChannelManager;
  readonly logger: Logger;
  readonly #options: HubOptions;
  readonly #clock = new SharedClock();
  readonly #routeConfigs = new WeakMap<AnyRoute, ChannelConfig>();
  readonly #handshakes: WsHandshakes;
  readonly #detachers = new Set<() => void>();
  readonly #upgradeHost: UpgradeHost;
  #state: 'open' | 'closing' | 'closed' = 'open';
  #closing: Promise<void> | undefined;

  constructor(options: HubOptions = {}) {
    this.config = parseConfig(options);
    this.#options = options;
    this.logger = this.config.logger ?? silentLogger;
    this.channels = new ChannelManager(this.#clock, this.logger);
    this.#handshakes = new WsHandshakes(this.logger);
    this.#clock.fitTo(shortestTimeout(this.config.timeouts));
    this.#upgradeHost = {
      handshakeTimeoutMs: this.config.timeouts.handshake,
      accept: (pending, route, context, headers) => this.#accept(pending, route, context, headers),
      settled: (pending, opened) => {
        this.#clock.delete(pending);
        const admission = pending.admission;
        if (!opened && admission !== undefined) {
          this.channels.abandon(admission.ip, admission.scope, admission.key);
        }
      },
    };
  }

  get state(): 'open' | 'closing' | 'closed' {
    return this.#state;
  }

  /**
   * The config a route's channels run with (hub config + the route's overrides), validated once.
   *
   * @throws {ConfigError} `WSLANE_CONFIG_INVALID` when the route's overrides are invalid.
   */
  routeConfig(route: AnyRoute): ChannelConfig {
    let config = this.#routeConfigs.get(route);
    if (config === undefined) {
      config =
        route.options === undefined
          ? this.config
          : resolveChannelConfig(this.#options, route.options, `routes["${route.name}"]`);
      this.#routeConfigs.set(route, config);
      this.#clock.fitTo(shortestTimeout(config.timeouts));
    }
    return config;
  }

  /**
   * Starts tracking an upgrade request: its handshake deadline and socket errors. Adapters call
   * this first, run the framework's middleware, then `accept` or `refuse` the result.
   */
  beginUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): PendingUpgrade {
    const pending = new PendingUpgrade(this.#upgradeHost, req, socket, head);
    this.#clock.add(pending);
    // The caps count an upgrade from its first byte: slow auth middleware cannot stack up.
    const ip = clientIpOf(req, this.config.trustProxy);
    const refusal =
      this.#state === 'open' ? this.channels.admit(ip, this.config.limits) : 'WSLANE_HUB_CLOSING';
    if (refusal === undefined) pending.admission = { ip };
    else pending.refuseWith(refusal);
    return pending;
  }

  /**
   * Upgrades a request on `route` (checks, handshake, channel). Resolves the channel, or
   * `undefined` when the upgrade was refused with an HTTP error or the socket went away.
   */
  handleUpgrade<TContext>(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    // biome-ignore lint/suspicious/noExplicitAny: any message types; the context type is checked.
    route: Route<any, any, TContext>,
    context?: TContext,
    headers?: UpgradeHeaders,
  ): Promise<Channel | undefined> {
    return this.beginUpgrade(req, socket, head).accept(route, context, headers);
  }

  /**
   * Listens for upgrades on `server` and hands each one to `handler` as a {@link PendingUpgrade}
   * (handshake deadline running). What adapters build on; `hub.close()` removes the listener once
   * closed. Returns a function that removes it earlier.
   */
  onUpgrade(
    server: Server,
    handler: (pending: PendingUpgrade, server: Server) => void,
  ): () => void {
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
      const pending = this.beginUpgrade(req, socket, head);
      // The handler starts once every other 'upgrade' listener of this emit had its turn: a
      // socket one of them took (a dev server's hot reload, socket.io) is not ours to answer.
      queueMicrotask(() => {
        if (!pending.isAnswerable) {
          pending.release();
          return;
        }
        pending.watch();
        handler(pending, server);
      });
    };
    server.on('upgrade', onUpgrade);
    fitServerTimeouts(server, this.config.timeouts.handshake);
    const detach = (): void => {
      server.off('upgrade', onUpgrade);
      this.#detachers.delete(detach);
    };
    this.#detachers.add(detach);
    return detach;
  }

  /**
   * Serves `routes` on a plain `node:http` server. Only upgrades whose path matches a route are
   * claimed; others are left to other 'upgrade' listeners (404 if none claims them in time).
   * A binding's `context(req)` runs before the handshake (auth): what it returns becomes the
   * channel's context, and an {@link upgradeRefusal} it throws becomes the HTTP response.
   * Returns a function that detaches the hub from the server.
   *
   * @throws {ConfigError} `WSLANE_CONFIG_INVALID` when a route's overrides are invalid.
   */
  attach(server: Server, routes: RouteTable): () => void {
    const table = new Map<string, RouteBinding>();
    for (const [path, entry] of Object.entries(routes)) {
      const binding = 'route' in entry ? entry : { route: entry };
      this.routeConfig(binding.route);
      table.set(path, binding);
    }
    return this.onUpgrade(server, (pending) => {
      const binding = table.get(pathnameOf(pending.req));
      if (binding === undefined) {
        pending.release();
        this.unclaimedUpgrade(server, pending.socket);
        return;
      }
      void acceptBinding(pending, binding);
    });
  }

  /**
   * An upgrade no route of this hub matches: 404 at once when nothing else listens for upgrades
   * on `server`, else after `unclaimedUpgradeGrace` unless another listener answered it.
   */
  unclaimedUpgrade(server: Server, socket: Duplex): void {
    const refuse = (): void => {
      if (socket.destroyed || (socket as { bytesWritten?: number }).bytesWritten !== 0) return;
      socket.on('error', ignoreSocketError);
      writeRefusal(socket, 404, 'WSLANE_ROUTE_NOT_FOUND');
    };
    if (server.listenerCount('upgrade') <= 1) {
      refuse();
      return;
    }
    const timer = setTimeout(refuse, this.config.unclaimedUpgradeGrace);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  /**
   * Graceful shutdown: refuses new upgrades (503), flushes every lane, sends close frames,
   * terminates whoever has not answered by the timeout, and resolves when no channel is left.
   */
  close(options: HubCloseOptions = {}): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    // Checked first: a bad code throws before anything changed.
    const frame = toCloseFrame(
      options.code ?? this.config.closeCodes.shutdown,
      options.reason ?? 'server shutting down',
    );
    // Listeners stay attached while closing so new upgrades get a real 503, not a reset.
    this.#state = 'closing';
    const timeoutMs =
      (options.timeout === undefined ? undefined : toMilliseconds(options.timeout)) ??
      this.config.timeouts.closeHandshake;
    for (const channel of this.channels) void channel.close(frame.code, frame.reason);
    const deadline = setTimeout(() => {
      for (const channel of this.channels) channel.terminate();
    }, timeoutMs);
    this.#closing = this.channels.whenEmpty().then(() => {
      clearTimeout(deadline);
      this.#state = 'closed';
      for (const detach of [...this.#detachers]) detach();
      this.#handshakes.close();
    });
    return this.#closing;
  }

  stats(): HubStats {
    return { ...this.channels.stats(), state: this.#state, timers: this.#clock.timerCount };
  }

  async #accept(
    pending: PendingUpgrade,
    route: AnyRoute,
    context: unknown,
    headers: UpgradeHeaders,
  ): Promise<Channel | undefined> {
    if (!pending.isOpen || !pending.isAnswerable || !pending.detachResponse()) return undefined;
    const config = this.routeConfig(route);
    const refusal = this.#check(pending, route, config, context);
    if (refusal !== undefined) {
      this.logger.debug('upgrade refused', { code: refusal, url: pending.req.url });
      pending.refuseWith(refusal, headers);
      return undefined;
    }
    pending.state = 'upgrading';
    pending.unwatch(false);
    return new Promise<Channel | undefined>((resolve) => {
      pending.onAbandon = () => resolve(undefined);
      const { req, socket, head } = pending;
      this.#handshakes.complete(req, socket, head, config, headers, (ws) => {
        resolve(this.#open(pending, ws, route, config, context));
      });
    });
  }

  #check(
    pending: PendingUpgrade,
    route: AnyRoute,
    config: ChannelConfig,
    context: unknown,
  ): WslaneErrorCode | undefined {
    if (this.#state !== 'open') return 'WSLANE_HUB_CLOSING';
    if (!isOriginAllowed(pending.req, config.origins)) return 'WSLANE_ORIGIN_FORBIDDEN';
    let key: string | undefined;
    try {
      key = route.key?.(context);
    } catch (error) {
      this.logger.error('route key function threw', { route: route.name, cause: error });
      return 'WSLANE_HANDLER_FAILED';
    }
    const { ip } = pending.admission as NonNullable<PendingUpgrade['admission']>;
    const perIp = config.limits.maxConnectionsPerIp;
    // A route may lower the hub's per-IP cap; this upgrade already counts itself.
    if (perIp > 0 && this.channels.connectionsFrom(ip) > perIp) return 'WSLANE_IP_LIMIT';
    if (key !== undefined && config.duplicateKey === 'refuse') {
      if (!this.channels.reserveKey(route.name, key)) return 'WSLANE_KEY_CONFLICT';
    }
    pending.admission = { ip, scope: route.name, key };
    return undefined;
  }

  #open(
    pending: PendingUpgrade,
    ws: WebSocket,
    route: AnyRoute,
    config: ChannelConfig,
    context: unknown,
  ): Channel | undefined {
    pending.opened();
    const admission = pending.admission as NonNullable<PendingUpgrade['admission']>;
    if (this.#state !== 'open') {
      this.channels.abandon(admission.ip, admission.scope, admission.key);
      ws.close(this.config.closeCodes.shutdown, 'server shutting down');
      return undefined;
    }
    const channel = new OpenChannel({
      id: createChannelId(),
      key: admission.key,
      context,
      ws,
      socket: pending.socket,
      route,
      config,
      host: this.channels,
      remoteAddress: admission.ip,
    });
    const replaced = this.channels.register(channel);
    if (replaced !== undefined) {
      void replaced.close(config.closeCodes.replaced, 'replaced by a newer connection');
    }
    channel.start();
    return channel;
  }
}

/**
 * Creates a hub from a config object (validated by the core's schema).
 *
 * @throws {ConfigError} `WSLANE_CONFIG_INVALID`, listing every problem by path.
 * @example
 * ```ts
 * const hub = createHub({ timeouts: { idle: '60s' } });
 * hub.attach(server, { '/ws/echo': createRoute({ onMessage: (m, ch) => ch.send(m) }) });
 * ```
 */
export function createHub(options: HubOptions = {}): Hub {
  return new Hub(options);
}

function ignoreSocketError(): void {}

/**
 * A client that never finishes its request headers is Node's to drop: lower the server's
 * `headersTimeout` to the handshake deadline, and its connection check (which Node starts when
 * the server starts listening) to a fraction of it, or Node looks only every 30 s.
 */
function fitServerTimeouts(server: Server, handshakeMs: number): void {
  if (server.headersTimeout === 0 || server.headersTimeout > handshakeMs) {
    server.headersTimeout = handshakeMs;
  }
  const tunable = server as Server & { connectionsCheckingInterval: number };
  const interval = Math.max(10, Math.floor(handshakeMs / 4));
  if (tunable.connectionsCheckingInterval > interval)
    tunable.connectionsCheckingInterval = interval;
}

async function acceptBinding(pending: PendingUpgrade, binding: RouteBinding): Promise<void> {
  let context: unknown;
  const headers: Record<string, string | string[]> = {};
  try {
    if (binding.context !== undefined) context = await binding.context(pending.req, headers);
  } catch (error) {
    pending.refuseFor(error);
    return;
  }
  await pending.accept(binding.route, context, headers);
}
