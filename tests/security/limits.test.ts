import { createRoute, parseConfig } from '@wslane/core';
import { connect, expectRefusal } from '@wslane/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProbe, deferred } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { upgradeRequest } from '../scenarios/helpers/http-upgrade.js';
import { WireClient } from '../scenarios/helpers/wire-client.js';

const startHubServer = useHubServers();
afterEach(() => {
  vi.useRealTimers();
});

const MIB = 1024 * 1024;

describe('maxPayload', () => {
  it('defaults to 1 MiB: a message of 1 MiB is taken, one of 1 MiB + 1 closes with 1009', async () => {
    expect(parseConfig({}).limits.maxPayload).toBe(MIB);
    const sizes: number[] = [];
    const probe = createProbe({ onMessage: (m) => void sizes.push((m as Buffer).length) });
    const server = await startHubServer({ '/ws': probe.route });
    const client = await connect(server.url('/ws'));
    client.ws.send(Buffer.alloc(MIB));
    await expect.poll(() => sizes).toEqual([MIB]);
    client.ws.send(Buffer.alloc(MIB + 1));
    expect((await client.waitClosed()).code).toBe(1009);
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_MESSAGE_TOO_BIG']);
    expect(sizes).toEqual([MIB]);
  });
});

describe('connection caps', () => {
  it('refuses past maxConnectionsPerIp with 429 and admits again once one closes', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      { '/ws': probe.route },
      { limits: { maxConnectionsPerIp: 2 } },
    );
    const first = await connect(server.url('/ws'));
    const second = await connect(server.url('/ws'));
    const refusal = await expectRefusal(server.url('/ws'));
    expect(refusal.status).toBe(429);
    expect(refusal.headers['x-wslane-error']).toBe('WSLANE_IP_LIMIT');
    await first.close();
    await expect.poll(() => server.hub.stats().active).toBe(1);
    const third = await connect(server.url('/ws'));
    await Promise.all([second.close(), third.close()]);
  });

  it('refuses past maxConnections with 503', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/ws': probe.route }, { limits: { maxConnections: 2 } });
    const clients = [await connect(server.url('/ws')), await connect(server.url('/ws'))];
    const refusal = await expectRefusal(server.url('/ws'));
    expect(refusal.status).toBe(503);
    expect(refusal.headers['x-wslane-error']).toBe('WSLANE_CONNECTION_LIMIT');
    await Promise.all(clients.map((client) => client.close()));
  });

  it('counts upgrades still in their middleware, so slow handshakes cannot get around the caps', async () => {
    const auth = deferred<unknown>();
    let inMiddleware = 0;
    const server = await startHubServer(
      {
        '/slow': {
          route: createRoute({}),
          context: () => {
            inMiddleware++;
            return auth.promise;
          },
        },
      },
      { limits: { maxConnectionsPerIp: 2 }, timeouts: { handshake: 300 } },
    );
    const port = Number(new URL(server.url('/')).port);
    const pending = [await WireClient.tcp(port), await WireClient.tcp(port)];
    for (const client of pending) await client.write(upgradeRequest({ path: '/slow' }).text);
    await expect.poll(() => inMiddleware).toBe(2);
    // Two upgrades from this IP are open-or-pending: a third is over the cap at once, not 408
    // once it too has held a slot in the middleware for the whole handshake deadline.
    expect((await expectRefusal(server.url('/slow'))).status).toBe(429);
    for (const client of pending) expect((await client.response()).status).toBe(408);
    await expect.poll(() => server.hub.stats().pending).toBe(0);
    auth.resolve({});
  });

  it('ignores X-Forwarded-For unless trustProxy is set (a client cannot pick its own IP)', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      { '/ws': probe.route },
      { limits: { maxConnectionsPerIp: 1 } },
    );
    const first = await connect(server.url('/ws'), { headers: { 'X-Forwarded-For': '10.0.0.1' } });
    const spoofed = await expectRefusal(server.url('/ws'), {
      headers: { 'X-Forwarded-For': '10.0.0.2' },
    });
    expect(spoofed.status).toBe(429);
    expect((await probe.channel()).remoteAddress).toBe('127.0.0.1');
    await first.close();
  });

  it('with trustProxy 1 takes the entry the proxy appended, not one the client prepended', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      { '/ws': probe.route },
      { trustProxy: 1, limits: { maxConnectionsPerIp: 1 } },
    );
    const url = server.url('/ws');
    const a = await connect(url, { headers: { 'X-Forwarded-For': '203.0.113.9, 198.51.100.1' } });
    expect((await probe.channel()).remoteAddress).toBe('198.51.100.1');
    // Same real client, a different forged first entry: still the same IP.
    const forged = await expectRefusal(url, {
      headers: { 'X-Forwarded-For': '203.0.113.77, 198.51.100.1' },
    });
    expect(forged.status).toBe(429);
    const b = await connect(url, { headers: { 'X-Forwarded-For': '198.51.100.2' } });
    await Promise.all([a.close(), b.close()]);
  });
});

describe('per-channel message rate limit', () => {
  it('closes with 1008 past the token bucket with action close', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      { '/ws': probe.route },
      { limits: { rateLimit: { messages: 10, interval: '1m' } } },
    );
    const client = await connect(server.url('/ws'));
    for (let i = 0; i < 11; i++) client.ws.send(`m${i}`);
    expect((await client.waitClosed()).code).toBe(1008);
    const channel = await probe.channel();
    expect(channel.stats.messagesIn).toBe(10);
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_RATE_LIMITED']);
  });

  it('drops the excess and counts it in stats.droppedIn with action drop, staying open', async () => {
    const received: string[] = [];
    const probe = createProbe({ onMessage: (m) => void received.push(String(m)) });
    const server = await startHubServer(
      { '/ws': probe.route },
      { limits: { rateLimit: { messages: 5, interval: '1m', action: 'drop' } } },
    );
    const client = await connect(server.url('/ws'));
    for (let i = 0; i < 20; i++) client.ws.send(`m${i}`);
    const channel = await probe.channel();
    await expect.poll(() => channel.stats.droppedIn).toBe(15);
    expect(received).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(channel.stats.messagesIn).toBe(5);
    expect(channel.state).toBe('open');
    expect(probe.errors).toEqual([]);
    await client.close();
  });

  it('is on by default: 1,000 messages at once, the 1,001st closes with 1008', async () => {
    // Freeze the clock the bucket refills by (sockets and timers stay real).
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    const probe = createProbe();
    const server = await startHubServer({ '/ws': probe.route });
    const client = await connect(server.url('/ws'));
    for (let i = 0; i < 1001; i++) client.ws.send('x');
    expect((await client.waitClosed()).code).toBe(1008);
    expect((await probe.channel()).stats.messagesIn).toBe(1000);
  });
});
