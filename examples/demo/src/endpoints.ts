import type { Route } from '@wslane/core';
import type { HttpReply } from './http-reply.js';

/** A `GET` path answered with a plain HTTP reply. */
export interface PageEndpoint {
  readonly path: string;
  reply(): HttpReply;
}

/** The verdict on an upgrade request's query: the channel's context, or an HTTP refusal. */
export type Admission<TContext = unknown> =
  | { readonly ok: true; readonly context: TContext }
  | { readonly ok: false; readonly reply: HttpReply };

/** A WebSocket path: the query is checked before the handshake, then `route` takes the socket. */
export interface SocketEndpoint {
  readonly path: string;
  // biome-ignore lint/suspicious/noExplicitAny: endpoints carry routes of any message types.
  readonly route: Route<any, any, any>;
  /** Runs as framework middleware on the upgrade request, before the handshake. */
  admit(query: URLSearchParams): Admission;
}

/** Everything the demo serves; each adapter mounts exactly this. */
export interface DemoRoutes {
  readonly pages: readonly PageEndpoint[];
  readonly sockets: readonly SocketEndpoint[];
}

/** For routes whose channels need no context: every query is fine. */
export function admitAnyone(): Admission {
  return { ok: true, context: {} };
}
