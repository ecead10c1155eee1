import { connect } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { createProbe } from '../helpers/channel-probe.js';
import { startHubServer } from '../helpers/hub-server.js';

function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

describe('release leaves nothing behind', () => {
  it('returns to the baseline of sockets, timers and listeners after open, close and terminate', async () => {
    const before = resources();
    const probe = createProbe({ onOpen: (channel) => channel.join('room') });
    const server = await startHubServer(
      { '/l': probe.route },
      { timeouts: { idle: '1m', heartbeat: { interval: '10s', timeout: '5s' } } },
    );
    const upgradeListeners = server.server.listenerCount('upgrade');
    for (let round = 0; round < 3; round++) {
      const clients = await Promise.all(
        Array.from({ length: 30 }, () => connect(server.url('/l'))),
      );
      await expect.poll(() => server.hub.stats().active).toBe(30);
      for (const [i, channel] of probe.channels.slice(-30).entries()) {
        if (i % 3 === 0) channel.terminate();
        else if (i % 3 === 1) void channel.close();
      }
      await Promise.all(clients.map((c, i) => (i % 3 === 2 ? c.close() : c.waitClosed())));
      await expect.poll(() => server.hub.stats().active).toBe(0);
      expect(server.hub.stats()).toMatchObject({ pending: 0, timers: 0, rooms: {} });
    }
    expect(server.hub.stats()).toMatchObject({ created: 90, released: 90 });
    await server.close();
    expect(server.server.listenerCount('upgrade')).toBe(upgradeListeners - 1);
    await expect.poll(() => resources()).toEqual(before);
  });
});
