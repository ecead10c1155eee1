import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import { type Channel, createRoute, json } from '@wslane/core';
import { wslane } from '@wslane/koa';
import Koa, { type Context, type Next } from 'koa';
import { z } from 'zod';

const app = new Koa();
const router = new Router();
const lane = wslane(app, { timeouts: { idle: '5m' } });

const echo = createRoute({ name: 'echo', onMessage: (message, channel) => channel.send(message) });
const chat = createRoute({
  name: 'chat',
  codec: json(z.object({ text: z.string().min(1).max(500) })),
  onOpen: (channel) => channel.join('lobby'),
  onMessage: ({ text }, channel: Channel<unknown, { user: string }>) =>
    lane.hub.channels.room('lobby').broadcast({ user: channel.context.user, text }),
});

// Plain Koa middleware guards the upgrade: its 401 is a real HTTP response, before any handshake.
async function requireUser(ctx: Context, next: Next): Promise<void> {
  if (ctx.query.token !== 'demo') ctx.throw(401, 'token required');
  ctx.state.user = String(ctx.query.name ?? 'anonymous');
  await next();
}

router.get('/ws/echo', lane.upgrade(echo));
router.get(
  '/ws/chat',
  requireUser,
  lane.upgrade(chat, { context: (ctx) => ({ user: String(ctx.state.user) }) }),
);
app.use(router.routes());

const server = await lane.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
const { port } = server.address() as AddressInfo;
process.stdout.write(`wslane on Koa: ws://127.0.0.1:${port} (/ws/echo, /ws/chat?token=demo)\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void lane.hub.close().then(() => server.close()));
}
