import { expectRefusal } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { channelsOf, serverChannel, useConformanceApps } from '../conformance-apps.js';
import { AUTH } from '../conformance-routes.js';
import { harnesses } from '../harnesses.js';
import { startOtherWsServer } from '../helpers.js';

describe.each(harnesses)('conformance: $name: upgrade', (harness) => {
  const start = useConformanceApps(harness);

  it('refuses an upgrade without credentials with the middleware 401 and its headers', async () => {
    const app = await start();
    const refusal = await app.expectRefusal('/ws/whoami');
    expect(refusal.status).toBe(401);
    expect(refusal.headers['www-authenticate']).toBe('Bearer');
    expect(app.hub.stats()).toMatchObject({ created: 0, pending: 0 });
  });

  it('refuses a forbidden token with 403 and creates no channel', async () => {
    const app = await start();
    const refusal = await app.expectRefusal('/ws/whoami', {
      headers: { authorization: AUTH.forbiddenToken },
    });
    expect(refusal.status).toBe(403);
    expect(app.hub.stats()).toMatchObject({ created: 0, pending: 0 });
  });

  it('hands middleware data to the channel context and middleware headers to the 101', async () => {
    const app = await start();
    const client = await app.connect('/ws/whoami?x=1', {
      headers: { authorization: AUTH.goodToken },
    });
    expect(client.upgradeHeaders['set-cookie']).toEqual([AUTH.cookie]);
    expect(await client.nextJson()).toEqual({ user: AUTH.user, params: {}, query: { x: '1' } });
    expect(app.hub.stats().created).toBe(1);
    await client.close();
  });

  it('refuses an origin off the allow-list with 403 and accepts listed and Origin-less clients', async () => {
    const app = await start({ origins: ['https://ok.example'] });
    const refusal = await app.expectRefusal('/ws/echo', { origin: 'https://evil.example' });
    expect(refusal.status).toBe(403);
    expect(refusal.headers['x-wslane-error']).toBe('WSLANE_ORIGIN_FORBIDDEN');
    expect(app.hub.stats().created).toBe(0);
    const listed = await app.connect('/ws/echo', { origin: 'https://ok.example' });
    const originless = await app.connect('/ws/echo');
    expect(app.hub.stats().created).toBe(2);
    await Promise.all([listed.close(), originless.close()]);
  });

  it('refuses an upgrade past maxConnections with 503 until a connection is gone', async () => {
    const app = await start({ limits: { maxConnections: 1 } });
    const first = await app.connect('/ws/echo');
    const refusal = await app.expectRefusal('/ws/echo');
    expect(refusal.status).toBe(503);
    expect(refusal.headers['x-wslane-error']).toBe('WSLANE_CONNECTION_LIMIT');
    await first.close();
    await expect.poll(() => app.hub.stats().active).toBe(0);
    await (await app.connect('/ws/echo')).close();
  });

  it('refuses an upgrade past maxConnectionsPerIp with 429', async () => {
    const app = await start({ limits: { maxConnectionsPerIp: 1 } });
    const first = await app.connect('/ws/echo');
    const refusal = await app.expectRefusal('/ws/echo');
    expect(refusal.status).toBe(429);
    expect(refusal.headers['x-wslane-error']).toBe('WSLANE_IP_LIMIT');
    await first.close();
  });

  it('closes the older channel with 4409 when a newer one takes its session key', async () => {
    const app = await start();
    const first = await app.connect('/ws/keyed?user=a');
    const second = await app.connect('/ws/keyed?user=a');
    expect((await first.waitClosed()).code).toBe(4409);
    await expect.poll(() => channelsOf(app, 'keyed').length).toBe(1);
    expect(app.hub.channels.getByKey('keyed', 'a')).toBe(await serverChannel(app, 'keyed'));
    expect(second.ws.readyState).toBe(second.ws.OPEN);
    await second.close();
  });

  it('refuses a second channel with the same session key with 409 on a refusing route', async () => {
    const app = await start();
    const first = await app.connect('/ws/keyed-refuse?user=a');
    const refusal = await app.expectRefusal('/ws/keyed-refuse?user=a');
    expect(refusal.status).toBe(409);
    expect(refusal.headers['x-wslane-error']).toBe('WSLANE_KEY_CONFLICT');
    const other = await app.connect('/ws/keyed-refuse?user=b');
    expect(first.ws.readyState).toBe(first.ws.OPEN);
    await first.close();
    await expect.poll(() => app.hub.channels.getByKey('keyed-refuse', 'a')).toBeUndefined();
    await (await app.connect('/ws/keyed-refuse?user=a')).close();
    await other.close();
  });

  it('negotiates its first preferred subprotocol the client offers, and none without an offer', async () => {
    const app = await start();
    const offering = await app.connect('/ws/proto', { protocols: ['v1.chat', 'v2.chat'] });
    expect(offering.ws.protocol).toBe('v2.chat');
    expect(await offering.next()).toBe('v2.chat');
    const plain = await app.connect('/ws/proto');
    expect(plain.ws.protocol).toBe('');
    expect(await plain.next()).toBe('');
    await Promise.all([offering.close(), plain.close()]);
  });

  it('answers an unknown upgrade path with 404 when it is the only upgrade listener', async () => {
    const app = await start();
    expect((await app.expectRefusal('/ws/nowhere')).status).toBe(404);
    expect(app.hub.stats().created).toBe(0);
  });

  it('shares its server with another ws server and still answers unclaimed paths with 404', async () => {
    const app = await start({ unclaimedUpgradeGrace: 100 });
    expect(app.hub.config.unclaimedUpgradeGrace).toBe(100);
    const other = await startOtherWsServer(app);
    try {
      const lane = await app.connect('/ws/echo');
      await other.expectSideBySide(lane);
      expect((await expectRefusal(app.url('/ws/nowhere'))).status).toBe(404);
      // The other server's connection is not the hub's.
      expect(channelsOf(app, 'echo')).toHaveLength(1);
      expect(app.hub.stats().active).toBe(1);
      await lane.close();
    } finally {
      await other.close();
    }
  });
});
