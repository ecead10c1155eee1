import { connect, expectRefusal, type TestClient } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';

const startHubServer = useHubServers();

function keyedProbe() {
  return createProbe({ name: 'keyed', key: () => 'alice' });
}

describe('session keys', () => {
  it('replaces the older channel with the same key, closing it with 4409', async () => {
    const probe = keyedProbe();
    const server = await startHubServer({ '/k': probe.route });
    const first = await connect(server.url('/k'));
    await probe.channel(0);
    const second = await connect(server.url('/k'));
    const newer = await probe.channel(1);
    expect((await first.waitClosed()).code).toBe(4409);
    expect(server.hub.channels.getByKey('keyed', 'alice')).toBe(newer);
    await expect.poll(() => server.hub.channels.size).toBe(1);
    await second.close();
  });

  it('refuses a duplicate key with HTTP 409 when configured to refuse', async () => {
    const probe = keyedProbe();
    const server = await startHubServer({ '/k': probe.route }, { duplicateKey: 'refuse' });
    const first = await connect(server.url('/k'));
    const refusal = await expectRefusal(server.url('/k'));
    expect(refusal.status).toBe(409);
    expect(refusal.headers['x-wslane-error']).toBe('WSLANE_KEY_CONFLICT');
    await first.close();
    await expect.poll(() => server.hub.channels.size).toBe(0);
    const again = await connect(server.url('/k'));
    await again.close();
  });

  it('leaves exactly one open channel after 1,000 fast reconnects with one key', async () => {
    const probe = keyedProbe();
    const server = await startHubServer(
      { '/k': probe.route },
      { limits: { maxConnectionsPerIp: 0 } },
    );
    const url = server.url('/k');
    const clients: TestClient[] = [];
    for (let batch = 0; batch < 20; batch++) {
      clients.push(...(await Promise.all(Array.from({ length: 50 }, () => connect(url)))));
    }
    await expect
      .poll(() => clients.filter((c) => c.ws.readyState === c.ws.OPEN).length, { timeout: 4000 })
      .toBe(1);
    await expect.poll(() => server.hub.channels.size).toBe(1);
    const survivor = clients.find((c) => c.ws.readyState === c.ws.OPEN) as TestClient;
    const codes = await Promise.all(
      clients.filter((c) => c !== survivor).map((c) => c.waitClosed()),
    );
    expect(new Set(codes.map((c) => c.code))).toEqual(new Set([4409]));
    await survivor.close();
    await expect.poll(() => server.hub.stats().active).toBe(0);
    const stats = server.hub.stats();
    expect(stats).toMatchObject({ created: 1000, released: 1000, pending: 0, timers: 0 });
  }, 10_000);
});
