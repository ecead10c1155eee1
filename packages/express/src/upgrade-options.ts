import { EMPTY_CONTEXT, snapshotRecords } from '@wslane/core';
import type { Request, Response } from 'express';

/**
 * A channel's context when `upgrade` is given no `context` function: copies taken at upgrade
 * time, read-only (empty ones are shared by every channel).
 */
export interface UpgradeContext {
  /** `req.params` of the Express route that upgraded (e.g. `{ room: 'lobby' }`). */
  readonly params: Readonly<Request['params']>;
  /** `req.query`, parsed once at upgrade time (Express 5 parses it anew on every read). */
  readonly query: Readonly<Request['query']>;
  /** `res.locals` as the middleware before `upgrade` left it (e.g. the user an auth step set). */
  readonly locals: Readonly<Response['locals']>;
}

/** Options of `lane.upgrade(route, options)`. */
export interface UpgradeOptions<TContext> {
  /**
   * Builds the channel's context once the middleware before `upgrade` ran. What it throws (or
   * rejects with) goes to Express like any middleware error.
   * @default copies of `req.params`, `req.query` and `res.locals` ({@link UpgradeContext})
   */
  readonly context: (req: Request, res: Response) => TContext | Promise<TContext>;
}

/** The context of a channel whose `upgrade` has no `context` function. */
export function toUpgradeContext(req: Request, res: Response): UpgradeContext {
  const records = { params: req.params, query: req.query, locals: res.locals };
  return snapshotRecords(records, EMPTY_UPGRADE_CONTEXT);
}

/** The context of every channel whose upgrade request had no params, query or locals. */
const EMPTY_UPGRADE_CONTEXT: UpgradeContext = Object.freeze({
  params: EMPTY_CONTEXT,
  query: EMPTY_CONTEXT,
  locals: EMPTY_CONTEXT,
});
