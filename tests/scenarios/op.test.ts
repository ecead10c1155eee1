import type { AddressInfo, Socket } from 'node:net';
import { connect as connectTcp } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { connect, withTimeout } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { createProbe, deferred } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { useConformanceApps } from '../integration/conformance-apps.js';
import { AUTH } from '../integration/conformance-routes.js';
import { harnesses } from '../integration/harnesses.js';
import { encodeFrame, encodeMessages } from './helpers/frame-encoder.js';
import { upgradeRequest } from './helpers/http-upgrade.js';
import { connectionsOf, gatedHarnesses, useGatedApps } from './helpers/op-apps.js';
import { rawUpgrade, useWireClients, type WireClient } from './helpers/wire-client.js';
import { closeCodeOf, OP } from './helpers/wire-frames.js';

const startHubServer = useHubServers();
const openWire = useWireClients();

/** A macrotask turn. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Text frames in one buffer, to send right behind the upgrade request. */
function textFrames(...payloads: string[]): Buffer {
  return Buffer.concat(payloads.map((payload) => encodeFrame({ opcode: OP.text, payload })));
}

/** `count` text messages `m0`, `m1`, … in one buffer. */
function numberedMessages(count: number): Buffer {
  return encodeMessages(
    OP.text,
    Array.from({ length: count }, (_, i) => `m${i}`),
  );
}

/** Text messages the wire client received, in order. */
function texts(client: WireClient): string[] {
  return client.messages().map((m) => m.payload.toString());
}

/** A route whose `onOpen` waits for `gate`, recording the messages its handler got. */
function heldProbe() {
  const gate = deferred();
  const handled: string[] = [];
  const probe = createProbe({
    onOpen: () => gate.promise,
    onMessage: (message) => {
      handled.push(String(message));
    },
  });
  return { gate, handled, probe };
}

/** An echo route that records what reached its handlers, in order. */
function echoProbe() {
  const events: string[] = [];
  const probe = createProbe({
    onOpen: () => {
      events.push('open');
    },
    onMessage: (message, channel) => {
      events.push(`message:${String(message)}`);
      return channel.send(message);
    },
  });
  return { probe, events };
}

describe('OP: opening, early messages and the upgrade path (core)', () => {
  it('OP-01 client sends immediately while onOpen is still running', async () => {
    const gate = deferred();
    const order: string[] = [];
    const probe = createProbe({
      onOpen: async (channel) => {
        await gate.promise;
        await channel.send('ready');
        order.push('onOpen done');
      },
      onMessage: (message, channel) => {
        order.push(String(message));
        return channel.send(`reply:${String(message)}`);
      },
    });
    const server = await startHubServer({ '/op': probe.route });
    const client = await openWire(server.url('/op'));
    const sent = Array.from({ length: 10 }, (_, i) => `early${i}`);
    for (const message of sent) await client.send(message);
    const channel = await probe.channel();
    await expect.poll(() => channel.stats.messagesIn).toBe(10);
    expect(order).toEqual([]);
    gate.resolve();
    await client.waitForCount((f) => f.opcode === OP.text, 11);
    expect(order).toEqual(['onOpen done', ...sent]);
    expect(texts(client)).toEqual(['ready', ...sent.map((m) => `reply:${m}`)]);
  });

  it('OP-02 frames that arrive before the upgrade completes (slow auth in a route binding)', async () => {
    const { probe, events } = echoProbe();
    const gate = deferred<boolean>();
    const reached = deferred();
    const server = await startHubServer({
      '/op': {
        route: probe.route,
        context: async () => {
          reached.resolve();
          if (!(await gate.promise)) throw new Error('refused');
          return {};
        },
      },
    });
    const extra = textFrames('first', 'second');
    const opening = openWire(server.url('/op'), { extra });
    await withTimeout(reached.promise, 2000, 'auth reached');
    gate.resolve(true);
    const client = await opening;
    await client.waitForCount((f) => f.opcode === OP.text, 2);
    expect(texts(client)).toEqual(['first', 'second']);
    expect(events).toEqual(['open', 'message:first', 'message:second']);
  });

  it('OP-03 onOpen fails (rejects after early messages arrived)', async () => {
    const gate = deferred();
    const handled: string[] = [];
    const closes: number[] = [];
    const probe = createProbe({
      onOpen: async () => {
        await gate.promise;
        throw new Error('lookup failed');
      },
      onMessage: (message) => {
        handled.push(String(message));
      },
      onClose: (_channel, code) => {
        closes.push(code);
      },
    });
    const server = await startHubServer({ '/op': probe.route });
    const client = await openWire(server.url('/op'));
    for (let i = 0; i < 3; i++) await client.send(`early${i}`);
    const channel = await probe.channel();
    await expect.poll(() => channel.stats.messagesIn).toBe(3);
    gate.resolve();
    expect(closeCodeOf(await client.waitClose())).toBe(1011);
    await client.waitEnded();
    await expect.poll(() => closes).toHaveLength(1);
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_HANDLER_FAILED']);
    expect(handled).toEqual([]);
  });

  it('OP-03 onOpen fails (throws synchronously, early frames in the upgrade request)', async () => {
    const handled: string[] = [];
    const closes: number[] = [];
    const probe = createProbe({
      onOpen: () => {
        throw new Error('bug in onOpen');
      },
      onMessage: (message) => {
        handled.push(String(message));
      },
      onClose: (_channel, code) => {
        closes.push(code);
      },
    });
    const server = await startHubServer({ '/op': probe.route });
    const extra = textFrames('early0', 'early1');
    const client = await openWire(server.url('/op'), { extra });
    expect(closeCodeOf(await client.waitClose())).toBe(1011);
    await client.waitEnded();
    await expect.poll(() => closes).toHaveLength(1);
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_HANDLER_FAILED']);
    expect(handled).toEqual([]);
  });

  it('OP-04 flood before open: past the rate limit the channel closes with 1008', async () => {
    const { gate, handled, probe } = heldProbe();
    const server = await startHubServer({ '/op': probe.route });
    const bystander = await connect(server.url('/op'));
    const client = await openWire(server.url('/op'));
    const channel = await probe.channel(1);
    const flood = numberedMessages(100_000);
    const started = Date.now();
    void client.write(flood).catch(() => {});
    expect(closeCodeOf(await client.waitClose(3000))).toBe(1008);
    // Held before the close: the token bucket's burst plus what it refilled meanwhile (1/ms).
    const { messages } = server.hub.config.limits.rateLimit as { messages: number };
    expect(channel.stats.messagesIn).toBeLessThanOrEqual(messages + (Date.now() - started));
    expect(probe.errors.at(-1)?.code).toBe('WSLANE_RATE_LIMITED');
    gate.resolve();
    await expect.poll(() => channel.state).toBe('closed');
    expect(handled.filter((m) => m.startsWith('m'))).toEqual([]);
    expect(bystander.ws.readyState).toBe(bystander.ws.OPEN);
    await bystander.close();
  });

  it('OP-04 flood before open: without a rate limit the socket pauses and nothing is lost', async () => {
    const gate = deferred();
    let handled = 0;
    let inOrder = true;
    const inboundQueue = 64;
    const probe = createProbe({
      options: { limits: { inboundQueue, rateLimit: false } },
      onOpen: () => gate.promise,
      onMessage: (message) => {
        if (message !== `m${handled}`) inOrder = false;
        handled++;
      },
    });
    const echo = createProbe({ onMessage: (message, channel) => channel.send(message) });
    const server = await startHubServer({ '/op': probe.route, '/echo': echo.route });
    const bystander = await connect(server.url('/echo'));
    const client = await openWire(server.url('/op'));
    const channel = await probe.channel();
    const count = 100_000;
    const frameBytes = encodeFrame({ opcode: OP.text, payload: `m${count - 1}` }).length;
    void client.write(numberedMessages(count)).catch(() => {});
    await expect.poll(() => channel.stats.messagesIn).toBeGreaterThanOrEqual(inboundQueue);
    // Give the server many turns (bystander round trips): a paused socket stays paused.
    for (let i = 0; i < 50; i++) {
      bystander.ws.send(`ping${i}`);
      expect(await bystander.next()).toBe(`ping${i}`);
    }
    // Held: the queue plus what the one socket read in progress held, not the 100,000.
    // (The shortest frames are 3 bytes shorter than the last one.)
    const perRead = Math.ceil(65_536 / (frameBytes - 3));
    expect(channel.stats.messagesIn).toBeLessThanOrEqual(inboundQueue + perRead);
    expect(handled).toBe(0);
    gate.resolve();
    await expect.poll(() => handled, { timeout: 4000 }).toBe(count);
    expect(inOrder).toBe(true);
    expect(channel.state).toBe('open');
    await bystander.close();
  });

  it('OP-04 flood before open: a steady trickle (1 message/ms, 300 ms) is held and delivered', async () => {
    const { gate, handled, probe } = heldProbe();
    const server = await startHubServer({ '/op': probe.route });
    const client = await openWire(server.url('/op'));
    const channel = await probe.channel();
    // Scaled from 10 s with onOpen taking 5 s: onOpen ends half-way through the trickle.
    for (let i = 0; i < 300; i++) {
      await client.send(`t${i}`);
      if (i === 150) gate.resolve();
      // Traffic shaping: the client trickles its messages, 1 ms apart.
      await delay(1);
    }
    await expect.poll(() => handled.length).toBe(300);
    expect(handled).toEqual(Array.from({ length: 300 }, (_, i) => `t${i}`));
    expect(channel.state).toBe('open');
  });

  for (const leaving of ['reset', 'close'] as const) {
    it(`OP-05 client leaves during async auth (route binding, TCP ${leaving === 'reset' ? 'reset' : 'FIN'})`, async () => {
      const { probe, events } = echoProbe();
      let reached = deferred();
      let gate = deferred();
      const server = await startHubServer({
        '/op': {
          route: probe.route,
          context: async () => {
            reached.resolve();
            await gate.promise;
            return {};
          },
        },
      });
      const sockets: Socket[] = [];
      server.server.on('connection', (socket: Socket) => sockets.push(socket));
      const { port } = server.server.address() as AddressInfo;
      // 25 times (not 10,000), each checked one by one.
      for (let i = 0; i < 25; i++) {
        reached = deferred();
        gate = deferred();
        const tcp = connectTcp(port, '127.0.0.1');
        tcp.on('error', () => {});
        tcp.write(upgradeRequest({ path: '/op', host: `127.0.0.1:${port}` }).text);
        await withTimeout(reached.promise, 2000, 'auth reached');
        const serverSide = sockets.at(-1) as Socket;
        const left = new Promise((resolve) => tcp.once('close', resolve));
        if (leaving === 'reset') tcp.resetAndDestroy();
        else tcp.destroy();
        await withTimeout(left, 2000, 'client gone');
        // The server must notice the client left (reset, or FIN read while auth runs) on its own.
        await withTimeout(
          new Promise((resolve) => serverSide.once('close', resolve)),
          2000,
          'server sees the client leave',
        );
        // Auth finishes after the client is gone.
        gate.resolve();
        await expect.poll(() => server.hub.stats().pending).toBe(0);
        expect(server.hub.stats().created).toBe(0);
        expect(serverSide.bytesWritten).toBe(0);
      }
      expect(events).toEqual([]);
      expect(server.hub.stats()).toMatchObject({ created: 0, active: 0, pending: 0 });
      await expect.poll(() => connectionsOf(server.server)).toBe(0);
    });
  }
});

describe.each(harnesses)('OP on $name (conformance apps)', (harness) => {
  const start = useConformanceApps(harness);

  it('OP-01 client sends immediately while onOpen is still running', async () => {
    const app = await start();
    const client = await app.connect('/ws/slow-open');
    const sent = Array.from({ length: 10 }, (_, i) => `early${i}`);
    for (const message of sent) client.ws.send(message);
    expect(await client.next()).toBe('ready');
    expect(await client.take(10)).toEqual(sent);
    await client.close();
  });

  it('OP-02 frames that arrive with the upgrade request are delivered after open, in order', async () => {
    const app = await start();
    const extra = textFrames('first', 'second');
    const client = await openWire(app.url('/ws/echo'), { extra });
    await client.waitForCount((f) => f.opcode === OP.text, 2);
    expect(texts(client)).toEqual(['first', 'second']);
    await client.close();
    await client.waitEnded();
  });

  it('OP-02 frames sent with a refused upgrade request are discarded behind a 401', async () => {
    const app = await start();
    const extra = textFrames('first', 'second');
    const answer = await rawUpgrade(app.url('/ws/whoami'), { extra });
    expect(answer.status).toBe(401);
    expect(app.hub.stats()).toMatchObject({ created: 0, messagesIn: 0 });
  });

  it('OP-06 refused upgrades are answered and closed before the handshake', async () => {
    const app = await start({ origins: ['https://ok.example'] });
    const holder = await app.connect('/ws/keyed-refuse?user=K');
    const capped = await start({ limits: { maxConnectionsPerIp: 1 } });
    const heldPerIp = await capped.connect('/ws/echo');
    const full = await start({ limits: { maxConnections: 1 } });
    const heldTotal = await full.connect('/ws/echo');
    const cases: [number, string, Parameters<typeof rawUpgrade>[1], typeof app][] = [
      [401, '/ws/whoami', {}, app],
      [403, '/ws/whoami', { headers: { Authorization: AUTH.forbiddenToken } }, app],
      [403, '/ws/echo', { headers: { Origin: 'https://evil.example' } }, app],
      [404, '/ws/nowhere', {}, app],
      [409, '/ws/keyed-refuse?user=K', {}, app],
      [429, '/ws/echo', {}, capped],
      [503, '/ws/echo', {}, full],
    ];
    // 20 of each (not 10,000: the same path each time, for the 5 s budget).
    for (const [status, path, options, target] of cases) {
      for (let i = 0; i < 20; i++) {
        // rawUpgrade waits for the server to end the connection: a refusal left open fails here.
        const answer = await rawUpgrade(target.url(path), options);
        expect(answer.status, `${path} → ${status}`).toBe(status);
        expect(answer.raw.toString('latin1')).not.toMatch(/^HTTP\/1\.1 101/m);
      }
    }
    for (const target of [app, capped, full]) {
      expect(target.hub.stats()).toMatchObject({ created: 1, active: 1, pending: 0 });
      // Only the one held client is still connected: every refused socket was closed.
      await expect.poll(() => connectionsOf(target.server)).toBe(1);
    }
    await Promise.all([holder.close(), heldPerIp.close(), heldTotal.close()]);
  });

  it('OP-08 slow or incomplete handshakes are dropped at the handshake deadline', async () => {
    const handshakeMs = 200;
    const app = await start({ timeouts: { handshake: handshakeMs } });
    const { port } = app.server.address() as AddressInfo;
    const half = Buffer.from('GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n');
    // 100 clients (not 1,000): half send half an upgrade request, half send nothing at all.
    const clients = Array.from({ length: 100 }, (_, i) => {
      const socket = connectTcp(port, '127.0.0.1');
      socket.on('error', () => {});
      if (i % 2 === 0) socket.write(half);
      let answer = '';
      socket.on('data', (chunk: Buffer) => {
        answer += chunk.toString('latin1');
      });
      const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(answer)));
      return { socket, closed };
    });
    try {
      const answers = await withTimeout(
        Promise.all(clients.map((c) => c.closed)),
        handshakeMs + 1500,
        'every slow client dropped',
      );
      for (const answer of answers)
        expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
      expect(app.hub.stats()).toMatchObject({ created: 0, pending: 0 });
    } finally {
      for (const { socket } of clients) socket.destroy();
    }
  });
});

describe.each(gatedHarnesses)('OP on $name (async auth middleware)', (harness) => {
  const start = useGatedApps(harness);

  it('OP-02 frames that arrive before the upgrade completes wait through slow auth', async () => {
    const { probe, events } = echoProbe();
    const app = await start(probe.route);
    const extra = textFrames('first', 'second');
    const opening = openWire(app.url('/ws/gated'), { headers: { 'x-op-id': 'a' }, extra });
    const decide = await app.reached('a');
    decide('allow');
    const client = await opening;
    await client.waitForCount((f) => f.opcode === OP.text, 2);
    expect(texts(client)).toEqual(['first', 'second']);
    expect(events).toEqual(['open', 'message:first', 'message:second']);
    await client.close();
    await client.waitEnded();
  });

  it('OP-02 frames sent with an upgrade the slow auth refuses are discarded behind a 401', async () => {
    const { probe, events } = echoProbe();
    const app = await start(probe.route);
    const extra = textFrames('first', 'second');
    const answering = rawUpgrade(app.url('/ws/gated'), { headers: { 'x-op-id': 'd' }, extra });
    (await app.reached('d'))('deny');
    const answer = await answering;
    expect(answer.status).toBe(401);
    expect(answer.raw.toString('latin1')).not.toMatch(/^HTTP\/1\.1 101/m);
    expect(events).toEqual([]);
    expect(app.hub.stats()).toMatchObject({ created: 0, messagesIn: 0 });
  });

  for (const leaving of ['reset', 'close'] as const) {
    it(`OP-05 client leaves during async auth (TCP ${leaving === 'reset' ? 'reset' : 'FIN'})`, async () => {
      const { probe, events } = echoProbe();
      const app = await start(probe.route);
      const sockets: Socket[] = [];
      app.server.on('connection', (socket: Socket) => sockets.push(socket));
      const { port } = app.server.address() as AddressInfo;
      // 10 per framework (not 10,000), each checked one by one.
      for (let i = 0; i < 10; i++) {
        const tcp = connectTcp(port, '127.0.0.1');
        tcp.on('error', () => {});
        tcp.write(
          upgradeRequest({
            path: '/ws/gated',
            host: `127.0.0.1:${port}`,
            headers: { 'x-op-id': `leave${i}` },
          }).text,
        );
        const decide = await app.reached(`leave${i}`);
        const serverSide = sockets.at(-1) as Socket;
        const left = new Promise((resolve) => tcp.once('close', resolve));
        if (leaving === 'reset') tcp.resetAndDestroy();
        else tcp.destroy();
        await withTimeout(left, 2000, 'client gone');
        // The server must notice the client left (reset, or FIN read while auth runs) on its own.
        await withTimeout(
          new Promise((resolve) => serverSide.once('close', resolve)),
          2000,
          'server sees the client leave',
        );
        decide('allow');
        await expect.poll(() => app.hub.stats().pending).toBe(0);
        expect(app.hub.stats().created).toBe(0);
        expect(serverSide.bytesWritten).toBe(0);
      }
      expect(events).toEqual([]);
      expect(app.hub.stats()).toMatchObject({ created: 0, active: 0, pending: 0 });
      await expect.poll(() => connectionsOf(app.server)).toBe(0);
    });
  }

  it('OP-07 one failing upgrade does not stop the next', async () => {
    const { probe } = echoProbe();
    const app = await start(probe.route);
    const sockets: Socket[] = [];
    app.server.on('connection', (socket: Socket) => sockets.push(socket));
    const { port } = app.server.address() as AddressInfo;
    const opened: WireClient[] = [];
    for (let i = 0; i < 20; i++) {
      const id = `u${i}`;
      if (i % 2 === 1) {
        // The middleware throws synchronously on every odd upgrade.
        const answer = await rawUpgrade(app.url('/ws/gated'), { headers: { 'x-op-throw': '1' } });
        expect(answer.status).toBe(500);
      } else if (i % 4 === 2) {
        // The socket is destroyed (reset) between the middleware and the handshake.
        const tcp = connectTcp(port, '127.0.0.1');
        tcp.on('error', () => {});
        tcp.write(
          upgradeRequest({
            path: '/ws/gated',
            host: `127.0.0.1:${port}`,
            headers: { 'x-op-id': id },
          }).text,
        );
        const decide = await app.reached(id);
        const serverSide = sockets.at(-1) as Socket;
        const gone = new Promise((resolve) => serverSide.once('close', resolve));
        tcp.resetAndDestroy();
        await withTimeout(gone, 2000, 'server sees the reset');
        decide('allow');
        await expect.poll(() => app.hub.stats().pending).toBe(0);
      } else {
        const opening = openWire(app.url('/ws/gated'), { headers: { 'x-op-id': id } });
        (await app.reached(id))('allow');
        const client = await opening;
        await client.send(id);
        await client.waitFor((f) => f.payload.toString() === id);
        opened.push(client);
      }
    }
    expect(opened).toHaveLength(5);
    await expect.poll(() => app.hub.stats()).toMatchObject({ created: 5, active: 5, pending: 0 });
    for (const client of opened) await client.close();
    await turn();
  });

  it('OP-08 a complete upgrade whose auth never finishes gets 408 at the handshake deadline', async () => {
    const { probe, events } = echoProbe();
    const app = await start(probe.route, { timeouts: { handshake: 200 } });
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        rawUpgrade(app.url('/ws/gated'), { headers: { 'x-op-id': `slow${i}` } }, 2000),
      ),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    for (const answer of answers) {
      expect(answer.status).toBe(408);
      expect(answer.headers['x-wslane-error']).toBe('WSLANE_HANDSHAKE_TIMEOUT');
    }
    // Deciding afterwards opens nothing.
    for (let i = 0; i < 20; i++) (await app.reached(`slow${i}`))('allow');
    await expect.poll(() => app.hub.stats().pending).toBe(0);
    expect(events).toEqual([]);
    expect(app.hub.stats().created).toBe(0);
  });
});
