import { type Channel, createRoute, json } from '@wslane/core';
import { wslane } from '@wslane/express';
import express, { type RequestHandler } from 'express';
import { z } from 'zod';

const app = express();
const lane = wslane(app, { timeouts: { idle: '60s' } });

const echo = createRoute({ name: 'echo', onMessage: (message, channel) => channel.send(message) });
const chat = createRoute({
  name: 'chat',
  codec: json(z.object({ text: z.string().min(1).max(2000) })),
  onOpen: (channel) => channel.join('lobby'),
  onMessage: (message, channel: Channel<unknown, { user: string }>) =>
    lane.hub.channels.room('lobby').broadcast({ from: channel.context.user, text: message.text }),
});

// Ordinary Express middleware guards the upgrade: its 401 is the HTTP answer, no handshake.
const requireUser: RequestHandler = (req, res, next) => {
  if (req.query.token !== 'let-me-in') return void res.sendStatus(401);
  res.locals.user = String(req.query.name ?? 'anonymous');
  next();
};

app.get('/ws/echo', lane.upgrade(echo));
app.get(
  '/ws/chat',
  requireUser,
  lane.upgrade(chat, { context: (_req, res) => ({ user: res.locals.user as string }) }),
);

const server = await lane.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
const { port } = server.address() as { port: number };
process.stdout.write(`wslane on express at http://127.0.0.1:${port} (ws: /ws/echo, /ws/chat)\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void lane.hub.close().then(() => server.close()));
}
