import { createServer } from 'node:http';
import { type AddressInfo, connect as connectTcp } from 'node:net';
import { createHub, upgradeRefusal } from '@wslane/core';
import { connect, expectRefusal, withTimeout } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';

const startHubServer = useHubServers();

describe('upgrade admission', () => {
  it('refuses past maxConnections with 503 before the handshake', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/a': probe.route }, { limits: { maxConnections: 2 } });
    const open = [await connect(server.url('/a')), await connect(server.url('/a'))];
    const refusal = await expectRefusal(server.url('/a'));
    expect(refusal.status).toBe(503);
    expect(refusal.headers['x-wslane-error']).toBe('WSLANE_CONNECTION_LIMIT');
    await Promise.all(open.map((c) => c.close()));
  });

  it('refuses past maxConnectionsPerIp with 429', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      { '/a': probe.route },
      { limits: { maxConnectionsPerIp: 1 } },
    );
    const first = await connect(server.url('/a'));
    expect((await expectRefusal(server.url('/a'))).status).toBe(429);
    await first.close();
  });

  it('refuses a cross-site origin with 403 and accepts same-origin, listed and Origin-less clients', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      { '/a': probe.route },
      { origins: ['https://app.example'] },
    );
    const url = server.url('/a');
    const host = new URL(url).host;
    expect((await expectRefusal(url, { origin: 'https://evil.example' })).status).toBe(403);
    const clients = [
      await connect(url),
      await connect(url, { origin: 'https://app.example' }),
      await connect(url, { origin: `http://${host}` }),
    ];
    await Promise.all(clients.map((c) => c.close()));
  });

  it('answers unknown paths with 404 when it is the only upgrade listener', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/a': probe.route });
    const refusal = await expectRefusal(server.url('/nope'));
    expect(refusal.status).toBe(404);
    expect(refusal.headers['x-wslane-error']).toBe('WSLANE_ROUTE_NOT_FOUND');
  });

  it('leaves other upgrade listeners on the same server working', async () => {
    const probe = createProbe({
      onMessage: (m, c) => c.send(`lane:${String(m)}`).then(() => undefined),
    });
    const hub = createHub({ unclaimedUpgradeGrace: 100 });
    const httpServer = createServer();
    const other = new WebSocketServer({ noServer: true });
    other.on('connection', (ws) => ws.on('message', (m) => ws.send(`other:${String(m)}`)));
    httpServer.on('upgrade', (req, socket, head) => {
      if (req.url === '/other')
        other.handleUpgrade(req, socket, head, (ws) => other.emit('connection', ws, req));
    });
    hub.attach(httpServer, { '/lane': probe.route });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    const { port } = httpServer.address() as AddressInfo;
    const lane = await connect(`ws://127.0.0.1:${port}/lane`);
    const foreign = await connect(`ws://127.0.0.1:${port}/other`);
    lane.ws.send('a');
    foreign.ws.send('b');
    expect(await lane.next()).toBe('lane:a');
    expect(await foreign.next()).toBe('other:b');
    // Nobody claims /nowhere: the hub answers 404 after the grace period.
    expect((await expectRefusal(`ws://127.0.0.1:${port}/nowhere`)).status).toBe(404);
    await foreign.close();
    await lane.close();
    await hub.close();
    other.close();
    httpServer.closeAllConnections();
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  });

  it('negotiates the first configured subprotocol the client offers', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      { '/a': probe.route },
      { protocols: ['v2.chat', 'v1.chat'] },
    );
    const client = await connect(server.url('/a'), { protocols: ['v1.chat', 'v2.chat'] });
    expect(client.ws.protocol).toBe('v2.chat');
    expect((await probe.channel()).protocol).toBe('v2.chat');
    const plain = await connect(server.url('/a'));
    expect(plain.ws.protocol).toBe('');
    // A client that offers only unknown protocols gets none and, per RFC 6455, fails itself.
    await expect(connect(server.url('/a'), { protocols: ['other'] })).rejects.toThrow();
    await Promise.all([client.close(), plain.close()]);
  });

  it('closes with 1009 when a message exceeds maxPayload', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/a': probe.route }, { limits: { maxPayload: '1kb' } });
    const client = await connect(server.url('/a'));
    const bystander = await connect(server.url('/a'));
    client.ws.send('x'.repeat(1025));
    expect((await client.waitClosed()).code).toBe(1009);
    expect(probe.errors.map((e) => e.code)).toContain('WSLANE_MESSAGE_TOO_BIG');
    expect(bystander.ws.readyState).toBe(bystander.ws.OPEN);
    await bystander.close();
  });

  it('uses a route override of maxPayload', async () => {
    const small = createProbe({ options: { limits: { maxPayload: 16 } } });
    const big = createProbe();
    const server = await startHubServer({ '/small': small.route, '/big': big.route });
    const a = await connect(server.url('/small'));
    const b = await connect(server.url('/big'));
    b.ws.send('y'.repeat(100));
    a.ws.send('y'.repeat(100));
    expect((await a.waitClosed()).code).toBe(1009);
    await expect.poll(async () => (await big.channel()).stats.messagesIn).toBe(1);
    await b.close();
  });
});

describe('invalid upgrade requests', () => {
  const startHubServer = useHubServers();

  it('answers a request with a bad Sec-WebSocket-Key with 400 and the error code', async () => {
    const server = await startHubServer({ '/a': createProbe().route });
    const { port } = server.server.address() as AddressInfo;
    const response = await rawRequest(
      port,
      'GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: nope\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    expect(response).toMatch(/^HTTP\/1\.1 400 /);
    expect(response).toContain('X-Wslane-Error: WSLANE_UPGRADE_INVALID');
    await expect.poll(() => server.hub.stats().pending).toBe(0);
  });

  it('answers an unsupported protocol version with 400 naming the supported versions', async () => {
    const server = await startHubServer({ '/a': createProbe().route });
    const { port } = server.server.address() as AddressInfo;
    const response = await rawRequest(
      port,
      'GET /a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n',
    );
    expect(response).toMatch(/^HTTP\/1\.1 400 /);
    expect(response).toContain('Sec-WebSocket-Version: 13, 8');
  });
});

async function rawRequest(port: number, request: string): Promise<string> {
  const socket = connectTcp(port, '127.0.0.1');
  let response = '';
  socket.on('data', (chunk) => {
    response += chunk.toString();
  });
  socket.write(request);
  await withTimeout(new Promise((resolve) => socket.on('close', resolve)), 2000, 'raw response');
  return response;
}

describe('route bindings on plain node:http', () => {
  const startHubServer = useHubServers();

  it('runs the context function before the handshake and refuses with its HTTP status', async () => {
    const probe = createProbe();
    const server = await startHubServer({
      '/auth': {
        route: probe.route,
        context: (req) => {
          if (req.headers.authorization !== 'Bearer good') {
            throw upgradeRefusal(401, { 'WWW-Authenticate': 'Bearer' }, 'token required');
          }
          return { user: 'alice' };
        },
      },
      '/broken': {
        route: probe.route,
        context: () => {
          throw new Error('bug in auth');
        },
      },
    });
    const refused = await expectRefusal(server.url('/auth'));
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe('Bearer');
    expect(refused.headers['x-wslane-error']).toBe('WSLANE_UPGRADE_REFUSED');
    expect((await expectRefusal(server.url('/broken'))).status).toBe(500);
    expect(probe.channels).toHaveLength(0);
    const client = await connect(server.url('/auth'), {
      headers: { authorization: 'Bearer good' },
    });
    expect((await probe.channel()).context).toEqual({ user: 'alice' });
    await client.close();
  });
});
