import { createRoute, upgradeRefusal } from '@wslane/core';
import { connect, expectRefusal } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { upgradeRequest } from '../scenarios/helpers/http-upgrade.js';
import { WireClient } from '../scenarios/helpers/wire-client.js';

const startHubServer = useHubServers();

describe('origin allow-list (cross-site WebSocket hijacking)', () => {
  it('refuses a page of another site with 403 by default, before any handshake', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/ws': probe.route });
    const refusal = await expectRefusal(server.url('/ws'), { origin: 'https://evil.example' });
    expect(refusal.status).toBe(403);
    expect(refusal.headers['x-wslane-error']).toBe('WSLANE_ORIGIN_FORBIDDEN');
    expect(server.hub.stats()).toMatchObject({ created: 0, pending: 0 });
    expect(probe.channels).toEqual([]);
  });

  it('allows same-origin pages and clients that send no Origin (not browsers)', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/ws': probe.route });
    const url = server.url('/ws');
    const { host } = new URL(url);
    const clients = [
      await connect(url),
      await connect(url, { origin: `http://${host}` }),
      await connect(url, { origin: `HTTP://${host.toUpperCase()}/` }),
    ];
    expect(server.hub.stats().active).toBe(3);
    await Promise.all(clients.map((client) => client.close()));
  });

  it('refuses look-alikes of the own origin and of listed origins', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      { '/ws': probe.route },
      { origins: ['https://app.example'] },
    );
    const url = server.url('/ws');
    const { host, hostname, port } = new URL(url);
    const lookalikes = [
      `http://${host}.evil.example`,
      `http://evil.example/${host}`,
      `http://${host}@evil.example`,
      `http://${hostname}:${Number(port) + 1}`, // same host, other port: another origin
      'null', // sandboxed iframes, file: pages
      'https://app.example.evil.example',
      'https://evil.app.example',
      'http://app.example', // listed with https only
      'https://app.example:8443',
    ];
    for (const origin of lookalikes) {
      expect((await expectRefusal(url, { origin })).status, origin).toBe(403);
    }
    const listed = await connect(url, { origin: 'https://APP.example/' });
    expect(server.hub.stats()).toMatchObject({ created: 1, active: 1 });
    await listed.close();
  });

  it('lets one route be public ("*") while the others keep the allow-list', async () => {
    const open = createProbe({ options: { origins: ['*'] } });
    const guarded = createProbe();
    const server = await startHubServer({ '/public': open.route, '/private': guarded.route });
    const origin = 'https://anyone.example';
    const client = await connect(server.url('/public'), { origin });
    expect((await expectRefusal(server.url('/private'), { origin })).status).toBe(403);
    await client.close();
  });
});

describe('authentication before the handshake', () => {
  function authServer() {
    const probe = createProbe({ onMessage: (m, c) => void c.trySend(m) });
    return startHubServer({
      '/ws': {
        route: probe.route,
        context: (req) => {
          const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
          if (token === null) {
            throw upgradeRefusal(401, { 'WWW-Authenticate': 'Bearer realm="ws"' });
          }
          if (token !== 'good') throw upgradeRefusal(403);
          return { user: 'alice' };
        },
      },
      '/broken-auth': {
        route: createRoute({}),
        context: async () => {
          throw new Error('session store down');
        },
      },
    }).then((server) => ({ server, probe }));
  }

  it('answers a missing credential with 401 and its WWW-Authenticate header, and opens nothing', async () => {
    const { server, probe } = await authServer();
    const refusal = await expectRefusal(server.url('/ws'));
    expect(refusal.status).toBe(401);
    expect(refusal.headers['www-authenticate']).toBe('Bearer realm="ws"');
    expect(server.hub.stats()).toMatchObject({ created: 0, pending: 0 });
    expect(probe.channels).toEqual([]);
  });

  it('answers a bad credential with 403 and never switches protocols', async () => {
    const { server } = await authServer();
    const client = await WireClient.tcp(Number(new URL(server.url('/')).port));
    await client.write(upgradeRequest({ path: '/ws?token=bad' }).text);
    const response = await client.response();
    expect(response.status).toBe(403);
    expect(response.headers['sec-websocket-accept']).toBeUndefined();
    await client.waitEnded();
    expect(client.frames).toEqual([]);
    expect(server.hub.stats()).toMatchObject({ created: 0, pending: 0 });
  });

  it('answers an auth failure that is not a refusal with 500', async () => {
    const { server } = await authServer();
    expect((await expectRefusal(server.url('/broken-auth'))).status).toBe(500);
    expect(server.hub.stats()).toMatchObject({ created: 0, pending: 0 });
  });

  it('opens the channel with the context auth returned', async () => {
    const { server, probe } = await authServer();
    const client = await connect(server.url('/ws?token=good'));
    expect((await probe.channel()).context).toEqual({ user: 'alice' });
    await client.close();
  });

  it('does not let refused upgrades use up the per-IP cap', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      {
        '/ws': {
          route: probe.route,
          context: (req) => {
            if (!req.url?.includes('token=good')) throw upgradeRefusal(401);
            return {};
          },
        },
      },
      { limits: { maxConnectionsPerIp: 1 } },
    );
    for (let i = 0; i < 20; i++) {
      expect((await expectRefusal(server.url('/ws'))).status).toBe(401);
    }
    const client = await connect(server.url('/ws?token=good'));
    expect((await expectRefusal(server.url('/ws?token=good'))).status).toBe(429);
    await client.close();
  });
});
