import { createRoute, upgradeRefusal } from '@wslane/core';
import { connect, expectRefusal, type TestClient } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { createProbe, deferred } from '../helpers/channel-probe.js';
import { startHubServer } from '../helpers/hub-server.js';
import { upgradeRequest } from '../scenarios/helpers/http-upgrade.js';
import { SILENT, WireClient } from '../scenarios/helpers/wire-client.js';
import { OP } from '../scenarios/helpers/wire-frames.js';

function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

describe('churn leaves nothing behind', () => {
  it('returns to the baseline of sockets, timers and listeners after opens, closes, refusals, timeouts and abuse', async () => {
    const before = resources();
    const stalledAuth = deferred<unknown>();
    const echo = createProbe({
      onOpen: (channel) => channel.join('lobby'),
      onMessage: (m, c) => void c.trySend(m),
    });
    const idle = createProbe({ options: { timeouts: { idle: 60 } } });
    const server = await startHubServer(
      {
        '/echo': echo.route,
        '/idle': idle.route,
        '/auth': {
          route: createRoute({}),
          context: (req) => {
            if (req.url?.includes('stall')) return stalledAuth.promise;
            throw upgradeRefusal(401);
          },
        },
      },
      {
        limits: { maxConnectionsPerIp: 40 },
        timeouts: {
          handshake: 100,
          heartbeat: { interval: 60, timeout: 60 },
          closeHandshake: 100,
        },
      },
    );
    const port = Number(new URL(server.url('/')).port);
    const listeners = {
      upgrade: server.server.listenerCount('upgrade'),
      request: server.server.listenerCount('request'),
      connection: server.server.listenerCount('connection'),
    };

    for (let round = 0; round < 3; round++) {
      // Open, then close every way there is.
      const start = echo.channels.length;
      const clients = await Promise.all(
        Array.from({ length: 24 }, () => connect(server.url('/echo'))),
      );
      await expect.poll(() => echo.channels.length).toBe(start + 24);
      const channels = echo.channels.slice(start);
      const endings: Promise<unknown>[] = [];
      for (const [i, client] of clients.entries()) {
        const channel = channels[i];
        if (channel === undefined) continue;
        switch (i % 4) {
          case 0:
            endings.push(client.close());
            break;
          case 1:
            endings.push(channel.close(4000, 'bye').then(() => client.waitClosed()));
            break;
          case 2:
            channel.terminate();
            endings.push(client.waitClosed());
            break;
          default:
            client.ws.terminate();
            endings.push(client.waitClosed());
        }
      }
      await Promise.all(endings);

      // Refused upgrades: origin, path, auth, bad handshake.
      await expectRefusal(server.url('/echo'), { origin: 'https://evil.example' });
      await expectRefusal(server.url('/nowhere'));
      await expectRefusal(server.url('/auth'));
      const bad = await WireClient.tcp(port);
      await bad.write(
        upgradeRequest({ path: '/echo', headers: { 'Sec-WebSocket-Key': 'x' } }).text,
      );
      expect((await bad.response()).status).toBe(400);

      // Timeouts: handshake (408), idle (4408), heartbeat (dead peer), close handshake.
      const slow = await WireClient.tcp(port);
      await slow.write(upgradeRequest({ path: '/auth?stall' }).text);
      expect((await slow.response()).status).toBe(408);
      const idler = await connect(server.url('/idle'));
      expect((await idler.waitClosed()).code).toBe(4408);
      const dead: TestClient = await connect(server.url('/echo'), { autoPong: false });
      expect((await dead.waitClosed()).code).toBe(1006);
      const deaf = await WireClient.open(server.url('/echo'), SILENT);
      const deafChannel = await echo.channel(echo.channels.length - 1);
      void deafChannel.close(1000); // the raw client never answers: terminated at the deadline
      await deaf.waitEnded();

      // Protocol abuse: 1002 and 1009.
      const abusive = await WireClient.open(server.url('/echo'), SILENT);
      await abusive.sendFrame({ opcode: 0x3 });
      expect(await abusive.closeCode()).toBe(1002);
      const greedy = await WireClient.open(server.url('/echo'), SILENT);
      await greedy.sendFrame({ opcode: OP.binary, declaredLength: 2 ** 30 });
      expect(await greedy.closeCode()).toBe(1009);
      const polite = await WireClient.open(server.url('/echo'), SILENT);
      await polite.close();
      expect(await polite.closeCode()).toBe(1000);
      for (const raw of [bad, slow, deaf, abusive, greedy, polite]) raw.destroy();

      await expect.poll(() => server.hub.stats().active).toBe(0);
      expect(server.hub.stats()).toMatchObject({ pending: 0, timers: 0, rooms: {} });
    }
    stalledAuth.resolve({});
    const stats = server.hub.stats();
    expect(stats.created).toBe(stats.released);
    // Per round: 24 echo clients, the idle, dead and deaf peers, 3 raw clients.
    expect(stats.created).toBe(3 * 30);
    await server.close();
    expect(server.server.listenerCount('upgrade')).toBe(listeners.upgrade - 1);
    expect(server.server.listenerCount('request')).toBe(listeners.request);
    expect(server.server.listenerCount('connection')).toBe(listeners.connection);
    await expect.poll(() => resources()).toEqual(before);
  });
});
