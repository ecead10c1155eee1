import type { Server } from 'node:http';
import {
  type Channel,
  EMPTY_CONTEXT,
  type Hub,
  type PendingUpgrade,
  RequestSlot,
  type Route,
  snapshotRecords,
} from '@wslane/core';
import type Koa from 'koa';
import type { Context } from 'koa';
import type { DefaultUpgradeContext, UpgradeOptions } from './upgrade-options.js';

/** What `app.callback()` uses and @types/koa leaves out. */
interface KoaInternals {
  compose(middleware: Koa['middleware']): (ctx: Context) => Promise<void>;
  handleRequest(ctx: Context, fn: (ctx: Context) => Promise<void>): Promise<void>;
}

/**
 * @internal Runs upgrade requests through a Koa app's middleware the way `app.callback()` runs
 * HTTP requests, and hands the one a route claims to the hub.
 */
export class KoaUpgrades {
  readonly #app: Koa;
  readonly #hub: Hub;
  /** Upgrade requests whose socket no route has claimed yet. */
  readonly #waiting = new RequestSlot<PendingUpgrade>('wslane.pendingUpgrade');

  constructor(app: Koa, hub: Hub) {
    this.#app = app;
    this.#hub = hub;
  }

  /** True for an upgrade request no route has claimed yet. */
  isWaiting(ctx: Context): boolean {
    return this.#waiting.get(ctx.req) !== undefined;
  }

  /** Claims the request for `route`; `undefined` when it is no (longer an) upgrade to claim. */
  async open(
    ctx: Context,
    route: Route<unknown, unknown, unknown>,
    options: UpgradeOptions<unknown>,
  ): Promise<Channel | undefined> {
    if (!this.isWaiting(ctx)) return undefined;
    // Before the claim, so a throw here is answered by Koa like any middleware error.
    const context = await (options.context ?? defaultContext)(ctx);
    const pending = this.#waiting.get(ctx.req);
    if (pending === undefined) return undefined;
    this.#handOff(ctx);
    // Headers middleware set so far (Set-Cookie…) go out with the 101; core drops hop-by-hop ones.
    return pending.accept(route, context, ctx.response.headers);
  }

  run(pending: PendingUpgrade, server: Server): Promise<void> {
    const app = this.#app;
    const koa = app as unknown as KoaInternals;
    const ctx = app.createContext(pending.req, pending.createResponse()) as Context;
    this.#waiting.set(pending.req, pending);
    const chain = koa.compose(app.middleware);
    const fn = (): Promise<void> =>
      chain(ctx).then(
        () => this.#afterChain(ctx, pending, server),
        (error: unknown) => this.#afterError(ctx, pending, error),
      );
    const handle = (): Promise<void> => koa.handleRequest(ctx, fn);
    return app.ctxStorage === undefined ? handle() : app.ctxStorage.run(ctx, handle);
  }

  #afterChain(ctx: Context, pending: PendingUpgrade, server: Server): void {
    if (!this.isWaiting(ctx)) return;
    // Another 'upgrade' listener (or the handshake deadline) answered: Koa must not write.
    if (!pending.isAnswerable) this.#letGo(ctx, pending);
    // Koa's default 404 (no body): nobody here wants it; another 'upgrade' listener may.
    else if (ctx.status === 404 && ctx.body == null) {
      this.#letGo(ctx, pending);
      this.#hub.unclaimedUpgrade(server, pending.socket);
    }
  }

  #afterError(ctx: Context, pending: PendingUpgrade, error: unknown): void {
    // Unclaimed and unanswered: Koa's own error handling writes the response (401, 403, 500).
    if (this.isWaiting(ctx) && pending.isAnswerable) throw error;
    if (this.isWaiting(ctx)) this.#letGo(ctx, pending);
    this.#app.emit('error', error, ctx);
  }

  #letGo(ctx: Context, pending: PendingUpgrade): void {
    this.#handOff(ctx);
    pending.release();
  }

  #handOff(ctx: Context): void {
    this.#waiting.clear(ctx.req);
    ctx.respond = false;
    // Koa watches the socket until the response finishes, which it never will: the socket's
    // later errors belong to the channel (or another listener), not to this request.
    ctx.onerror = ignoreError;
  }
}

function defaultContext(ctx: Context): DefaultUpgradeContext {
  const params = ctx.params as Record<string, string> | undefined;
  return snapshotRecords({ params, query: ctx.query, state: ctx.state }, EMPTY_UPGRADE_CONTEXT);
}

/** The context of every channel whose upgrade request had no params, query or state. */
const EMPTY_UPGRADE_CONTEXT: DefaultUpgradeContext = Object.freeze({
  params: EMPTY_CONTEXT,
  query: EMPTY_CONTEXT,
  state: EMPTY_CONTEXT,
});

function ignoreError(): void {}
