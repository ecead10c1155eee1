import { connect } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';

const startHubServer = useHubServers();

describe('rooms', () => {
  it('broadcasts to every member but the excluded one, and leaves rooms on release', async () => {
    const probe = createProbe({ onOpen: (channel) => channel.join('lobby') });
    const server = await startHubServer({ '/r': probe.route });
    const clients = [];
    for (let i = 0; i < 3; i++) {
      clients.push(await connect(server.url('/r')));
      await probe.channel(i);
    }
    const lobby = server.hub.channels.room('lobby');
    expect(lobby.size).toBe(3);
    const result = lobby.broadcast('hi', { except: probe.channels[0] });
    expect(result).toEqual({ delivered: 2, dropped: 0, closed: 0 });
    expect(await clients[1]?.next()).toBe('hi');
    expect(await clients[2]?.next()).toBe('hi');
    await clients[2]?.close();
    await expect.poll(() => lobby.size).toBe(2);
    expect(server.hub.stats().rooms).toEqual({ lobby: 2 });
    probe.channels[1]?.leave('lobby');
    expect(lobby.size).toBe(1);
    await clients[0]?.close();
    await clients[1]?.close();
    await expect.poll(() => server.hub.stats().rooms).toEqual({});
  });

  it('keeps delivering to healthy members while one member does not read', async () => {
    const probe = createProbe({ onOpen: (channel) => channel.join('feed') });
    const server = await startHubServer(
      { '/r': probe.route },
      {
        backpressure: { highWaterMark: '16kb', maxBufferedBytes: '128kb', overflow: 'drop-newest' },
      },
    );
    const slow = await connect(server.url('/r'));
    slow.ws.pause();
    const healthy = [await connect(server.url('/r')), await connect(server.url('/r'))];
    await probe.channel(2);
    const room = server.hub.channels.room('feed');
    const payload = 'z'.repeat(8 * 1024);
    let dropped = 0;
    for (let i = 0; i < 2000; i++) {
      const result = room.broadcast(`${i}:${payload}`);
      dropped += result.dropped;
      expect(result.closed).toBe(0);
      // Healthy members drain between rounds; the paused one cannot.
      if (i % 10 === 9) await Promise.all(healthy.map((c) => c.take(10)));
    }
    expect(dropped).toBeGreaterThan(0);
    expect(probe.channels[0]?.stats.dropped).toBe(dropped);
    expect(probe.channels[0]?.stats.bufferedBytes).toBeLessThanOrEqual(128 * 1024);
    for (const client of healthy) expect(client.buffered).toBe(0);
    slow.ws.resume();
    await Promise.all([slow.close(), ...healthy.map((c) => c.close())]);
  });

  it('broadcasts hub-wide with a filter and encodes once per codec', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/r': probe.route });
    const a = await connect(server.url('/r'));
    const b = await connect(server.url('/r'));
    await probe.channel(1);
    const target = probe.channels[1];
    const result = server.hub.channels.broadcast('only-b', { filter: (c) => c === target });
    expect(result.delivered).toBe(1);
    expect(await b.next()).toBe('only-b');
    expect(a.buffered).toBe(0);
    await a.close();
    await b.close();
  });
});
