import type { Channel, Route } from '@wslane/core';
import type { Context, DefaultState } from 'koa';

/**
 * The context a channel gets when `upgrade` has no `context` option: copies taken at upgrade
 * time, read-only (empty ones are shared by every channel).
 */
export interface DefaultUpgradeContext {
  /** Path params set by the router (`@koa/router`'s `ctx.params`), `{}` without one. */
  readonly params: Readonly<Record<string, string>>;
  /** `ctx.query` of the upgrade request. */
  readonly query: Readonly<Record<string, string | string[] | undefined>>;
  /** `ctx.state` as the middleware before the route left it (the user, the session). */
  readonly state: Readonly<DefaultState>;
}

/** Options of `lane.upgrade` and `ctx.ws`. */
export interface UpgradeOptions<TContext = DefaultUpgradeContext> {
  /**
   * Builds the channel's context from the Koa context, after the middleware before it ran.
   * Throwing (`ctx.throw(403)`) refuses the upgrade with Koa's own error response.
   *
   * @default copies of `ctx.params`, `ctx.query` and `ctx.state` ({@link DefaultUpgradeContext})
   */
  readonly context?: (ctx: Context) => TContext | Promise<TContext>;
}

/** {@link UpgradeOptions} with its `context` function, for routes with their own context type. */
export type UpgradeOptionsWithContext<TContext> = UpgradeOptions<TContext> &
  Required<Pick<UpgradeOptions<TContext>, 'context'>>;

/**
 * `ctx.ws`: opens a channel on `route` for this upgrade request. Resolves the channel, or
 * `undefined` when wslane refused it (limits, origin), the socket went away, or the request was
 * already claimed.
 */
export interface UpgradeFunction {
  <TIn, TOut, TContext>(
    route: Route<TIn, TOut, TContext>,
    options: UpgradeOptionsWithContext<TContext>,
  ): Promise<Channel<TOut, TContext> | undefined>;
  <TIn, TOut>(
    route: Route<TIn, TOut, DefaultUpgradeContext>,
    options?: UpgradeOptions,
  ): Promise<Channel<TOut, DefaultUpgradeContext> | undefined>;
}

declare module 'koa' {
  interface ExtendableContext {
    /**
     * Set by `lane.middleware()`: a function opening a channel on this upgrade request, or
     * `undefined` for a plain HTTP request.
     */
    ws?: UpgradeFunction | undefined;
  }
}
