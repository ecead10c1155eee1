import type { AddressInfo, Socket } from 'node:net';
import { withTimeout } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { turn } from './helpers/event-loop.js';
import { leaveAndAwaitServer, sendUpgradeRequest } from './helpers/leaving-client.js';
import { connectionsOf, gatedHarnesses, useGatedApps } from './helpers/op-apps.js';
import { echoProbe, textFrames, texts } from './helpers/op-fixtures.js';
import { rawUpgrade } from './helpers/raw-upgrade.js';
import { useWireClients } from './helpers/use-wire-clients.js';
import type { WireClient } from './helpers/wire-client.js';
import { OP } from './helpers/wire-frames.js';

const openWire = useWireClients();

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
        const tcp = sendUpgradeRequest(port, '/ws/gated', { 'x-op-id': `leave${i}` });
        const decide = await app.reached(`leave${i}`);
        const serverSide = sockets.at(-1) as Socket;
        await leaveAndAwaitServer(tcp, serverSide, leaving);
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
        const tcp = sendUpgradeRequest(port, '/ws/gated', { 'x-op-id': id });
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
