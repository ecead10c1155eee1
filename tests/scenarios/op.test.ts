import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { connect, withTimeout } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { createProbe, deferred } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { encodeFrame, encodeMessages } from './helpers/frame-encoder.js';
import { leaveAndAwaitServer, sendUpgradeRequest } from './helpers/leaving-client.js';
import { connectionsOf } from './helpers/op-apps.js';
import { echoProbe, textFrames, texts } from './helpers/op-fixtures.js';
import { useWireClients } from './helpers/use-wire-clients.js';
import { closeCodeOf, OP } from './helpers/wire-frames.js';

const startHubServer = useHubServers();
const openWire = useWireClients();

/** `count` text messages `m0`, `m1`, … in one buffer. */
function numberedMessages(count: number): Buffer {
  return encodeMessages(
    OP.text,
    Array.from({ length: count }, (_, i) => `m${i}`),
  );
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
        const tcp = sendUpgradeRequest(port, '/op');
        await withTimeout(reached.promise, 2000, 'auth reached');
        const serverSide = sockets.at(-1) as Socket;
        await leaveAndAwaitServer(tcp, serverSide, leaving);
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
