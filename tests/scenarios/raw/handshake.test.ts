import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHub, createRoute, type Hub, type HubOptions, type RouteTable } from '@wslane/core';
import { connect } from '@wslane/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred } from '../../helpers/channel-probe.js';
import { upgradeRequest } from '../helpers/http-upgrade.js';
import { WireClient } from '../helpers/wire-client.js';
import { useRawServer } from './raw-harness.js';

const startRawServer = useRawServer();

/**
 * A hub on a server whose idle-connection checks run every 20 ms: Node checks `headersTimeout`
 * only every `connectionsCheckingInterval` (30 s by default, fixed when the server is created).
 */
async function startCheckedServer(
  routes: RouteTable,
  options: HubOptions,
): Promise<{ hub: Hub; server: Server; port: number }> {
  const hub = createHub(options);
  const server = createServer({ connectionsCheckingInterval: 20 }, (_req, res) => {
    res.writeHead(404).end();
  });
  hub.attach(server, routes);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    await hub.close({ timeout: 200 });
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { hub, server, port: (server.address() as AddressInfo).port };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

describe('half handshakes', () => {
  it('answers 408 when the request head never finishes (headersTimeout lowered to the handshake deadline)', async () => {
    const route = createRoute({ onMessage: (m, c) => void c.trySend(m) });
    const { hub, server, port } = await startCheckedServer(
      { '/raw': route },
      { timeouts: { handshake: 150 } },
    );
    expect(server.headersTimeout).toBe(150);
    const client = await WireClient.tcp(port);
    await client.write(upgradeRequest({ path: '/raw', complete: false }).text);
    const response = await client.response();
    expect(response.status).toBe(408);
    await client.waitEnded();
    expect(hub.stats()).toMatchObject({ active: 0, pending: 0, created: 0 });
    const healthy = await connect(`ws://127.0.0.1:${port}/raw`);
    healthy.ws.send('still here');
    expect(await healthy.next()).toBe('still here');
    await healthy.close();
  });

  it('answers 408 when the upgrade middleware does not finish within timeouts.handshake', async () => {
    const auth = deferred<{ user: string }>();
    const raw = await startRawServer({ timeouts: { handshake: 100 } }, undefined, {
      '/slow-auth': { route: createRoute({}), context: () => auth.promise },
    });
    const client = await WireClient.tcp(raw.port);
    await client.write(upgradeRequest({ path: '/slow-auth' }).text);
    const response = await client.response();
    expect(response.status).toBe(408);
    expect(response.headers['x-wslane-error']).toBe('WSLANE_HANDSHAKE_TIMEOUT');
    await client.waitEnded();
    // Auth finishing late opens nothing and reserves nothing.
    auth.resolve({ user: 'late' });
    await expect.poll(() => raw.server.hub.stats().pending).toBe(0);
    expect(raw.server.hub.stats()).toMatchObject({ active: 1, created: 1 }); // the health client
    await raw.expectHealthy();
  });

  it('drops the socket at the deadline when middleware already started a response', async () => {
    const hub = createHub({ timeouts: { handshake: 100 } });
    const server = createServer();
    hub.onUpgrade(server, (pending) => {
      const res = pending.createResponse();
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('partial'); // never ended
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      await hub.close({ timeout: 200 });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const client = await WireClient.tcp((server.address() as AddressInfo).port);
    await client.write(upgradeRequest({ path: '/x' }).text);
    await client.waitEnded();
    const response = await client.response();
    expect(response.status).toBe(200); // what was started, never a 408 after it
    expect(hub.stats()).toMatchObject({ pending: 0, timers: 0, created: 0 });
  });

  it('releases a pending upgrade whose client disconnects while middleware runs', async () => {
    const auth = deferred<unknown>();
    const raw = await startRawServer({}, undefined, {
      '/slow-auth': { route: createRoute({}), context: () => auth.promise },
    });
    const client = await WireClient.tcp(raw.port);
    await client.write(upgradeRequest({ path: '/slow-auth' }).text);
    client.destroy();
    await client.waitEnded();
    auth.resolve({});
    await expect.poll(() => raw.server.hub.stats()).toMatchObject({ pending: 0, active: 1 });
    await raw.expectHealthy();
  });

  it('survives a client that half-closes (FIN) in the middle of the request head', async () => {
    const raw = await startRawServer();
    const client = await WireClient.tcp(raw.port);
    const { text } = upgradeRequest({ path: '/raw' });
    await client.write(text.slice(0, 40));
    client.socket.end();
    await client.waitEnded();
    expect(raw.server.hub.stats()).toMatchObject({ pending: 0, active: 1 });
    await raw.expectHealthy();
  });
});

describe('garbage before the handshake', () => {
  it.each([
    ['random bytes', () => randomBytes(512)],
    ['NUL bytes', () => Buffer.alloc(64)],
    [
      'a request line with binary junk',
      () => Buffer.from('GET /raw HTTP/1.1\r\n\u0001\u0002\u0003\r\n\r\n'),
    ],
    ['a TLS ClientHello', () => Buffer.from('1603010200010001fc0303', 'hex')],
    ['a bad HTTP version', () => Buffer.from('GET /raw HTTP/9.9\r\nHost: x\r\n\r\n')],
  ])('answers %s with 400 and keeps serving', async (_name, garbage) => {
    const raw = await startRawServer();
    const client = await WireClient.tcp(raw.port);
    await client.write(garbage());
    const response = await client.response();
    expect(response.status).toBe(400);
    await client.waitEnded();
    expect(raw.server.hub.stats()).toMatchObject({ pending: 0, active: 1 });
    await raw.expectHealthy();
  });

  it('answers 431 to a request head over the server header limit', async () => {
    const raw = await startRawServer();
    const client = await WireClient.tcp(raw.port);
    const big = upgradeRequest({ path: '/raw', headers: { 'X-Pad': 'a'.repeat(20_000) } });
    await client.write(big.text);
    expect((await client.response()).status).toBe(431);
    await raw.expectHealthy();
  });

  it.each([
    ['a missing Sec-WebSocket-Key', { headers: { 'Sec-WebSocket-Key': undefined } }, 400],
    ['a malformed Sec-WebSocket-Key', { headers: { 'Sec-WebSocket-Key': 'short' } }, 400],
    ['an unsupported version', { headers: { 'Sec-WebSocket-Version': '12' } }, 400],
    ['POST', { method: 'POST' }, 405],
  ] as const)(
    'refuses an upgrade with %s (HTTP %i) before any handshake',
    async (_name, options, status) => {
      const raw = await startRawServer();
      const client = await WireClient.tcp(raw.port);
      await client.write(upgradeRequest({ path: '/raw', ...options }).text);
      const response = await client.response();
      expect(response.status).toBe(status);
      expect(response.headers['x-wslane-error']).toBe('WSLANE_UPGRADE_INVALID');
      await client.waitEnded();
      expect(raw.server.hub.stats()).toMatchObject({ pending: 0, active: 1, created: 1 });
      await raw.expectHealthy();
    },
  );
});
