import type { Request, Response } from 'express';

/** A channel's context when `upgrade` is given no `context` function. */
export interface UpgradeContext {
  /** `req.params` of the Express route that upgraded (e.g. `{ room: 'lobby' }`). */
  readonly params: Request['params'];
  /** `req.query`, parsed once at upgrade time (Express 5 parses it anew on every read). */
  readonly query: Request['query'];
  /** `res.locals` as the middleware before `upgrade` left it (e.g. the user an auth step set). */
  readonly locals: Response['locals'];
}

/** Options of `lane.upgrade(route, options)`. */
export interface UpgradeOptions<TContext> {
  /**
   * Builds the channel's context once the middleware before `upgrade` ran. What it throws (or
   * rejects with) goes to Express like any middleware error.
   * @default `(req, res) => ({ params: req.params, query: req.query, locals: res.locals })`
   */
  readonly context: (req: Request, res: Response) => TContext | Promise<TContext>;
}

/** The context of a channel whose `upgrade` has no `context` function. */
export function toUpgradeContext(req: Request, res: Response): UpgradeContext {
  return { params: { ...req.params }, query: req.query, locals: res.locals };
}
