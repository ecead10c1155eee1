import { serve } from '@hono/node-server';
import { createRoute, type RawMessage } from '@wslane/core';
import { wslane } from '@wslane/hono';
import { Hono } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';

const app = new Hono();
const { upgradeWebSocket, injectWebSocket, hub } = wslane({ app, timeouts: { idle: '5m' } });

// hono/ws-style events: the same code as with Hono's own upgradeWebSocket.
app.get(
  '/ws/echo',
  upgradeWebSocket(() => ({ onMessage: (evt, ws) => ws.send(evt.data as string | ArrayBuffer) })),
);

// A wslane route behind Hono's bearerAuth: no token, no handshake (401).
const room = createRoute<RawMessage, RawMessage, { room: string }>({
  onOpen: (channel) => channel.join(channel.context.room),
  onMessage: (message, channel) => hub.channels.room(channel.context.room).broadcast(message),
});
const auth = bearerAuth({ token: process.env.TOKEN ?? 'secret' });
app.get(
  '/ws/rooms/:room',
  auth,
  upgradeWebSocket(room, { context: (c) => ({ room: c.req.param('room') ?? 'lobby' }) }),
);

const port = Number(process.env.PORT ?? 3000);
const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info) => {
  process.stdout.write(
    `wslane on hono: http://127.0.0.1:${info.port} (ws: /ws/echo, /ws/rooms/:room)\n`,
  );
});
injectWebSocket(server);
process.once('SIGTERM', () => void hub.close().then(() => server.close()));
