import { connect, expectRefusal } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';

const startHubServer = useHubServers();

describe('hub shutdown', () => {
  it('flushes in-flight messages, closes with 1001 and resolves with no channel left', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      { '/x': probe.route },
      { backpressure: { highWaterMark: 1024 } },
    );
    const clients = [await connect(server.url('/x')), await connect(server.url('/x'))];
    await probe.channel(1);
    const sends = probe.channels.flatMap((channel) =>
      Array.from({ length: 50 }, (_, i) => channel.send(`${i}:${'q'.repeat(500)}`)),
    );
    const closing = server.hub.close();
    expect(server.hub.state).toBe('closing');
    await expect(Promise.all(sends)).resolves.toHaveLength(100);
    for (const client of clients) {
      const received = await client.take(50);
      expect(received.map((m) => Number(String(m).split(':')[0]))).toEqual([...Array(50).keys()]);
      expect((await client.waitClosed()).code).toBe(1001);
    }
    await closing;
    expect(server.hub.stats()).toMatchObject({ state: 'closed', active: 0, pending: 0, timers: 0 });
  });

  it('refuses upgrades with 503 while closing', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/x': probe.route });
    const client = await connect(server.url('/x'));
    client.ws.pause(); // holds the close handshake open, so the hub stays in 'closing'
    const closing = server.hub.close({ timeout: 300 });
    const refusal = await expectRefusal(server.url('/x'));
    expect(refusal.status).toBe(503);
    expect(refusal.headers['x-wslane-error']).toBe('WSLANE_HUB_CLOSING');
    await closing;
    client.ws.resume();
    // The close frame reached the client's kernel before the terminate.
    expect([1001, 1006]).toContain((await client.waitClosed()).code);
  });

  it('terminates channels that do not answer the close by the timeout', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/x': probe.route });
    const client = await connect(server.url('/x'));
    await probe.channel();
    client.ws.pause();
    const started = Date.now();
    await server.hub.close({ timeout: 200 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(server.hub.stats().active).toBe(0);
    client.ws.resume();
    await client.waitClosed();
  });
});
