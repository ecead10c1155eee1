import { setTimeout as delay } from 'node:timers/promises';
import {
  type Channel,
  createRoute,
  type Hub,
  json,
  lines,
  type Route,
  type RouteOptions,
} from '@wslane/core';
import { z } from 'zod';

/**
 * What every harness puts in a channel's context, from its framework's own middleware:
 * the user the auth middleware attached, the path params and the query.
 */
export interface ConformanceContext {
  readonly user?: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
}

/** The auth rule every harness implements as framework middleware on /ws/whoami. */
export const AUTH = {
  /** `Authorization: Bearer good` → user "alice" and a `Set-Cookie: session=abc` header. */
  goodToken: 'Bearer good',
  /** `Authorization: Bearer forbidden` → 403. Anything else → 401 + `WWW-Authenticate: Bearer`. */
  forbiddenToken: 'Bearer forbidden',
  user: 'alice',
  cookie: 'session=abc; Path=/',
} as const;

// biome-ignore lint/suspicious/noExplicitAny: a table of routes of different codecs.
type AnyRoute = Route<any, any, ConformanceContext>;

export type ConformanceRoutes = Readonly<Record<ConformancePath, AnyRoute>>;

/** Every path a harness serves, with the route to mount there (the same route objects). */
export type ConformancePath =
  | '/ws/echo'
  | '/ws/json'
  | '/ws/lines'
  | '/ws/whoami'
  | '/ws/rooms/:room'
  | '/ws/slow-open'
  | '/ws/fail'
  | '/ws/keyed'
  | '/ws/keyed-refuse'
  | '/ws/idle'
  | '/ws/proto';

const Say = z.object({ type: z.literal('say'), text: z.string().max(100) });

function route<TIn, TOut>(
  definition: Parameters<typeof createRoute<TIn, TOut, ConformanceContext>>[0],
): Route<TIn, TOut, ConformanceContext> {
  return createRoute<TIn, TOut, ConformanceContext>(definition);
}

/**
 * Fresh route objects for one app (keys and configs are per route object). `hub` gives the
 * app's hub once it exists, for room broadcasts.
 */
export function createConformanceRoutes(hub: () => Hub): ConformanceRoutes {
  const idle: RouteOptions = { timeouts: { idle: 150, heartbeat: false } };
  return {
    '/ws/echo': route({ name: 'echo', onMessage: (m, c) => c.send(m) }),
    '/ws/json': route({
      name: 'json',
      codec: json(Say),
      onMessage: (m, c: Channel<unknown, ConformanceContext>) => c.send({ echo: m.text }),
    }),
    '/ws/lines': route({
      name: 'lines',
      codec: lines({ maxLineBytes: 64 }),
      onMessage: (line, c) => c.send(`<${line}>`),
    }),
    '/ws/whoami': route({
      name: 'whoami',
      onOpen: (c) => c.send(JSON.stringify(c.context)),
    }),
    '/ws/rooms/:room': route({
      name: 'rooms',
      onOpen: (c) => c.join(c.context.params.room ?? 'none'),
      onMessage: (m, c) => {
        for (const room of c.rooms)
          hub()
            .channels.room(room)
            .broadcast(`${room}:${String(m)}`);
      },
    }),
    '/ws/slow-open': route({
      name: 'slow-open',
      onOpen: async (c) => {
        // A slow lookup before the channel is ready: early messages must wait, not vanish.
        await delay(100);
        await c.send('ready');
      },
      onMessage: (m, c) => c.send(m),
    }),
    '/ws/fail': route({
      name: 'fail',
      onMessage: () => {
        throw new Error('handler bug');
      },
    }),
    '/ws/keyed': route({ name: 'keyed', key: (ctx) => ctx.query.user }),
    '/ws/keyed-refuse': route({
      name: 'keyed-refuse',
      key: (ctx) => ctx.query.user,
      options: { duplicateKey: 'refuse' },
    }),
    '/ws/idle': route({ name: 'idle', options: idle }),
    '/ws/proto': route({
      name: 'proto',
      options: { protocols: ['v2.chat', 'v1.chat'] },
      onOpen: (c) => c.send(c.protocol),
    }),
  };
}
