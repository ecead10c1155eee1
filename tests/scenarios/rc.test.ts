import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect as connectTcp } from 'node:net';
import { type Channel, upgradeRefusal } from '@wslane/core';
import { connect, expectRefusal, type TestClient, withTimeout } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { serverChannel, useConformanceApps } from '../integration/conformance-apps.js';
import { harnesses } from '../integration/harnesses.js';
import { upgradeRequest } from './helpers/http-upgrade.js';
import { rawUpgrade } from './helpers/raw-upgrade.js';
import { useWireClients } from './helpers/use-wire-clients.js';
import { closeCodeOf, OP } from './helpers/wire-frames.js';

const startHubServer = useHubServers();
const openWire = useWireClients();

/** A keyed route (key from `?key=`) that records how each of its channels closed. */
function keyedProbe(options: Parameters<typeof createProbe>[0] = {}) {
  const closes = new Map<string, number>();
  const probe = createProbe({
    name: 'keyed',
    key: (context) => (context as { key?: string }).key,
    onClose: (channel, code) => {
      closes.set(channel.id, code);
    },
    ...options,
  });
  const context = (req: IncomingMessage) => ({
    key: new URL(req.url ?? '/', 'http://x').searchParams.get('key') ?? undefined,
  });
  return { probe, closes, binding: { route: probe.route, context } };
}

/** One upgrade attempt with a plain `ws` client: 101 and the open socket, or the refusal status. */
function tryUpgrade(url: string): Promise<{ status: number; ws: WebSocket }> {
  const ws = new WebSocket(url);
  ws.on('error', () => {});
  return withTimeout(
    new Promise((resolve) => {
      ws.once('open', () => resolve({ status: 101, ws }));
      ws.once('unexpected-response', (_request, response) => {
        resolve({ status: response.statusCode ?? 0, ws });
        response.destroy();
        ws.terminate();
      });
    }),
    2000,
    `upgrade ${url}`,
  );
}

describe('RC: fast reconnect and the channel registry', () => {
  it('RC-01 1,000 reconnects with one session key', async () => {
    const { probe, closes, binding } = keyedProbe();
    // Replaced channels count against the per-IP cap until their sockets are gone.
    const server = await startHubServer({ '/rc': binding }, { limits: { maxConnectionsPerIp: 0 } });
    const timersBefore = server.hub.stats().timers;
    const clients: TestClient[] = [];
    for (let i = 0; i < 1000; i++) {
      // As soon as one is open the next one connects, without waiting for the old close.
      clients.push(await connect(server.url('/rc?key=K')));
    }
    const last = clients.at(-1) as TestClient;
    const codes = await Promise.all(clients.slice(0, -1).map((client) => client.waitClosed(4000)));
    expect(new Set(codes.map((c) => c.code))).toEqual(new Set([4409]));
    await expect.poll(() => server.hub.stats().active).toBe(1);
    const holder = server.hub.channels.getByKey('keyed', 'K') as Channel;
    expect(holder).toBe(probe.channels.at(-1));
    expect(last.ws.readyState).toBe(last.ws.OPEN);
    // Every replaced channel saw 4409 on its own side too.
    const replaced = probe.channels.slice(0, -1).map((channel) => closes.get(channel.id));
    expect(new Set(replaced)).toEqual(new Set([4409]));
    const stats = server.hub.stats();
    expect(stats.created).toBe(stats.released + stats.active);
    expect(stats).toMatchObject({ created: 1000, released: 999, pending: 0 });
    await last.close();
    await expect.poll(() => server.hub.stats().active).toBe(0);
    expect(server.hub.stats()).toMatchObject({ created: 1000, released: 1000, timers: 0 });
    expect(timersBefore).toBe(0);
    expect(server.hub.channels.getByKey('keyed', 'K')).toBeUndefined();
  });

  it('RC-02 a late close of the old connection must not evict the new one', async () => {
    const { probe, binding } = keyedProbe();
    const server = await startHubServer(
      { '/rc': binding },
      { timeouts: { closeHandshake: 300, heartbeat: false } },
    );
    // The old peer never answers its close frame: its close event fires only at the deadline,
    // long after the new channel took the key.
    const old = await openWire(server.url('/rc?key=K'), { autoClose: false });
    const oldChannel = await probe.channel(0);
    const fresh = await connect(server.url('/rc?key=K'));
    const newChannel = await probe.channel(1);
    expect(closeCodeOf(await old.waitClose())).toBe(4409);
    expect(oldChannel.state).toBe('closing');
    expect(server.hub.channels.getByKey('keyed', 'K')).toBe(newChannel);
    await server.hub.channels.getByKey('keyed', 'K')?.send('before the late close');
    expect(await fresh.next()).toBe('before the late close');
    await old.waitEnded();
    await expect.poll(() => oldChannel.state).toBe('closed');
    // The old channel's release removed only itself.
    expect(server.hub.channels.getByKey('keyed', 'K')).toBe(newChannel);
    await server.hub.channels.getByKey('keyed', 'K')?.send('after the late close');
    expect(await fresh.next()).toBe('after the late close');
    expect(server.hub.stats()).toMatchObject({ active: 1, released: 1 });
    await fresh.close();
  });

  it('RC-03 reconnect while the old connection is half-open', async () => {
    const { probe, closes, binding } = keyedProbe();
    const server = await startHubServer(
      { '/rc': binding },
      { timeouts: { closeHandshake: 200, heartbeat: false } },
    );
    const old = await openWire(server.url('/rc?key=K'), { autoClose: false, autoPong: false });
    const oldChannel = await probe.channel(0);
    // Black-holed: it reads nothing and answers nothing, and its TCP connection stays up.
    old.pause();
    const fresh = await connect(server.url('/rc?key=K'));
    const newChannel = await probe.channel(1);
    expect(server.hub.channels.getByKey('keyed', 'K')).toBe(newChannel);
    for (let i = 0; i < 20; i++)
      await server.hub.channels.getByKey('keyed', 'K')?.send(`to K ${i}`);
    expect(await fresh.take(20)).toEqual(Array.from({ length: 20 }, (_, i) => `to K ${i}`));
    await expect.poll(() => oldChannel.state, { timeout: 2000 }).toBe('closed');
    expect(closes.get(oldChannel.id)).toBe(1006);
    expect(probe.errors).toEqual([{ code: 'WSLANE_CLOSE_TIMEOUT', channel: oldChannel.id }]);
    old.resume();
    await old.waitEnded();
    // The old peer got its 4409 close frame and not one of the messages meant for K.
    expect(old.frames.map((f) => f.opcode)).toEqual([OP.close]);
    expect(closeCodeOf(old.frames[0] as (typeof old.frames)[0])).toBe(4409);
    await fresh.close();
  });

  describe.each(harnesses)('RC-04 on $name', (harness) => {
    const start = useConformanceApps(harness);

    it('RC-04 refuse mode: 409 before any handshake, the first channel untouched', async () => {
      const app = await start();
      const first = await app.connect('/ws/keyed-refuse?user=K');
      const firstChannel = await serverChannel(app, 'keyed-refuse');
      const answer = await rawUpgrade(app.url('/ws/keyed-refuse?user=K'));
      expect(answer.status).toBe(409);
      expect(answer.headers['x-wslane-error']).toBe('WSLANE_KEY_CONFLICT');
      expect(answer.raw.toString('latin1')).not.toContain('101 Switching Protocols');
      expect(firstChannel.state).toBe('open');
      expect(app.hub.channels.getByKey('keyed-refuse', 'K')).toBe(firstChannel);
      await firstChannel.send('still yours');
      expect(await first.next()).toBe('still yours');
      expect(app.hub.stats()).toMatchObject({ created: 1, active: 1, pending: 0 });
      await first.close();
    });

    it('RC-04 refuse mode: of 20 racing upgrades with one key exactly one wins', async () => {
      const app = await start();
      const attempts = await Promise.all(
        Array.from({ length: 20 }, () => tryUpgrade(app.url('/ws/keyed-refuse?user=R'))),
      );
      const statuses = attempts.map((a) => a.status).sort();
      expect(statuses).toEqual([101, ...new Array(19).fill(409)]);
      expect(app.hub.stats()).toMatchObject({ created: 1, active: 1, pending: 0 });
      const winner = attempts.find((a) => a.status === 101)?.ws as WebSocket;
      const closed = new Promise((resolve) => winner.once('close', resolve));
      winner.close();
      await withTimeout(closed, 2000, 'winner closed');
    });
  });

  it('RC-05 churn releases every counter (1,000 cycles)', async () => {
    const cap = 64;
    const probe = createProbe();
    const server = await startHubServer(
      {
        '/rc': {
          route: probe.route,
          context: (req) => {
            const query = new URL(req.url ?? '/', 'http://x').searchParams;
            if (query.has('deny')) throw upgradeRefusal(401);
            return { id: query.get('id') };
          },
        },
      },
      {
        limits: { maxConnections: cap, maxConnectionsPerIp: cap },
        // Only the half-open peers meet a deadline: the close handshake they never answer.
        timeouts: { closeHandshake: 50, heartbeat: false },
      },
    );
    const { port } = server.server.address() as AddressInfo;
    const endings = ['clean', 'reset', 'handshake-abort', 'refused', 'half-open'] as const;
    const counts = Object.fromEntries(endings.map((e) => [e, 0])) as Record<
      (typeof endings)[number],
      number
    >;
    // 1,000 cycles, not 10,000: they take 1–3 s on a loaded two-core machine, the test has 5 s.
    const cycles = 1000;
    const workers = 16;
    let next = 0;
    async function cycle(n: number): Promise<void> {
      const ending = endings[n % endings.length] as (typeof endings)[number];
      counts[ending]++;
      if (ending === 'refused') {
        expect((await expectRefusal(server.url('/rc?deny'))).status).toBe(401);
      } else if (ending === 'handshake-abort') {
        const socket = connectTcp(port, '127.0.0.1');
        socket.on('error', () => {});
        const closed = new Promise((resolve) => socket.once('close', resolve));
        socket.write(upgradeRequest({ path: '/rc', host: `127.0.0.1:${port}` }).text.slice(0, 40));
        socket.destroy();
        await closed;
      } else if (ending === 'half-open') {
        // It stops reading: the server's close is never answered, the deadline kills it.
        const client = await connect(server.url(`/rc?id=h${n}`));
        client.ws.pause();
        const isMine = (c: Channel) => (c.context as { id?: string }).id === `h${n}`;
        await expect.poll(() => probe.channels.some(isMine), { interval: 5 }).toBe(true);
        const channel = probe.channels.find(isMine) as Channel;
        void channel.close(1000, 'server leaves');
        await expect.poll(() => channel.state, { interval: 5 }).toBe('closed');
        client.ws.terminate();
      } else {
        const client = await connect(server.url('/rc'));
        if (ending === 'clean') {
          await client.close();
        } else {
          client.ws.terminate();
          await client.waitClosed();
        }
      }
    }
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (next < cycles) await cycle(next++);
      }),
    );
    await expect.poll(() => server.hub.stats().active + server.hub.stats().pending).toBe(0);
    const stats = server.hub.stats();
    expect(stats).toMatchObject({ active: 0, pending: 0, timers: 0 });
    expect(stats.created).toBe(stats.released);
    expect(Object.values(counts).every((count) => count === cycles / endings.length)).toBe(true);
    // Both connection counters are back to zero: exactly `cap` connections fit again.
    const clients = await Promise.all(
      Array.from({ length: cap }, () => connect(server.url('/rc'))),
    );
    expect((await expectRefusal(server.url('/rc'))).status).toBe(503);
    await Promise.all(clients.map((c) => c.close()));
  });

  it('RC-06 sends to a key with no live channel', async () => {
    const { probe, binding } = keyedProbe();
    const server = await startHubServer({ '/rc': binding });
    const old = await connect(server.url('/rc?key=K'));
    const oldChannel = await probe.channel(0);
    await old.close();
    await expect.poll(() => oldChannel.state).toBe('closed');
    // The gap: no live channel holds K.
    expect(server.hub.channels.getByKey('keyed', 'K')).toBeUndefined();
    const broadcast = server.hub.channels.broadcast('to K', { filter: (c) => c.key === 'K' });
    expect(broadcast).toEqual({ delivered: 0, dropped: 0, closed: 0 });
    await expect(oldChannel.send('to K')).rejects.toMatchObject({ code: 'WSLANE_CHANNEL_CLOSED' });
    expect(oldChannel.trySend('to K')).toBe(false);
    // Nothing from the gap was kept for the next holder of K.
    const fresh = await connect(server.url('/rc?key=K'));
    const newChannel = await probe.channel(1);
    await newChannel.send('first after the gap');
    expect(await fresh.next()).toBe('first after the gap');
    expect(fresh.buffered).toBe(0);
    await fresh.close();
  });

  it('RC-07 reconnect storm (no client package: the server side of a storm)', async () => {
    // wslane ships no client with auto-reconnect; what the server guarantees is that a storm of
    // simultaneous reconnects with one key ends with one holder and a 4409 for every other.
    const { probe, binding } = keyedProbe();
    const server = await startHubServer({ '/rc': binding }, { limits: { maxConnectionsPerIp: 0 } });
    const storm = await Promise.all(
      Array.from({ length: 200 }, () => connect(server.url('/rc?key=S'))),
    );
    await expect.poll(() => storm.filter((c) => c.ws.readyState === c.ws.OPEN).length).toBe(1);
    const survivor = storm.find((c) => c.ws.readyState === c.ws.OPEN) as TestClient;
    const codes = await Promise.all(storm.filter((c) => c !== survivor).map((c) => c.waitClosed()));
    expect(new Set(codes.map((c) => c.code))).toEqual(new Set([4409]));
    await expect.poll(() => server.hub.stats().active).toBe(1);
    const holder = server.hub.channels.getByKey('keyed', 'S') as Channel;
    await holder.send('you won');
    expect(await survivor.next()).toBe('you won');
    expect(probe.channels).toHaveLength(200);
    await survivor.close();
  });
});
