import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect as connectTcp } from 'node:net';
import { createHub, type HubOptions } from '@wslane/core';
import { connect, expectRefusal, withTimeout } from '@wslane/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';

const startHubServer = useHubServers();
afterEach(() => {
  vi.useRealTimers();
});

const quiet: HubOptions['timeouts'] = { heartbeat: false, sendStall: false };

describe('timeout policies', () => {
  it('closes an idle channel with 4408 (fake timers)', async () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'],
    });
    const probe = createProbe();
    const server = await startHubServer(
      { '/t': probe.route },
      { timeouts: { ...quiet, idle: '30s' } },
    );
    const client = await connect(server.url('/t'));
    await probe.channel();
    await vi.advanceTimersByTimeAsync(29_000);
    expect(probe.channels[0]?.state).toBe('open');
    await vi.advanceTimersByTimeAsync(2_000);
    expect(probe.channels[0]?.state).not.toBe('open');
    vi.useRealTimers();
    expect(await client.waitClosed()).toEqual({ code: 4408, reason: 'idle timeout' });
  });

  it('closes a peer that only answers pings with 4408 when idle is set', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      { '/t': probe.route },
      { timeouts: { idle: 200, heartbeat: { interval: 30, timeout: 100 } } },
    );
    const client = await connect(server.url('/t'));
    let pings = 0;
    client.ws.on('ping', () => pings++);
    expect((await client.waitClosed()).code).toBe(4408);
    expect(pings).toBeGreaterThan(0);
  });

  it('terminates a peer that stops answering pings (dead peer, half-open TCP)', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      { '/t': probe.route },
      { timeouts: { heartbeat: { interval: 50, timeout: 50 } } },
    );
    const client = await connect(server.url('/t'), { autoPong: false });
    const channel = await probe.channel();
    expect((await client.waitClosed()).code).toBe(1006);
    await expect.poll(() => channel.state).toBe('closed');
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_HEARTBEAT_TIMEOUT']);
  });

  it('terminates a peer whose socket stopped reading and answering', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      { '/t': probe.route },
      { timeouts: { heartbeat: { interval: 50, timeout: 50 } } },
    );
    const client = await connect(server.url('/t'));
    client.ws.pause();
    const channel = await probe.channel();
    await expect.poll(() => channel.state, { timeout: 2000 }).toBe('closed');
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_HEARTBEAT_TIMEOUT']);
    client.ws.resume();
    await client.waitClosed();
  });

  it('never kills a busy peer that is slow to pong: any inbound frame proves life', async () => {
    const probe = createProbe({ onMessage: (m, c) => c.send(m).then(() => undefined) });
    const server = await startHubServer(
      { '/t': probe.route },
      { timeouts: { heartbeat: { interval: 40, timeout: 40 } } },
    );
    const client = await connect(server.url('/t'), { autoPong: false });
    // Ten times the heartbeat deadline, paced by the echoes themselves.
    for (let i = 0; i < 40; i++) {
      client.ws.send(String(i));
      expect(await client.next()).toBe(String(i));
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (i % 4 === 3)
        await withTimeout(new Promise((r) => client.ws.once('ping', r)), 1000, 'ping');
    }
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    await client.close();
  });

  it('closes with 4001 after maxLifetime', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      { '/t': probe.route },
      { timeouts: { ...quiet, maxLifetime: 150 } },
    );
    const started = Date.now();
    const client = await connect(server.url('/t'));
    expect((await client.waitClosed()).code).toBe(4001);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('terminates when the peer does not answer the close frame in time', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      { '/t': probe.route },
      { timeouts: { ...quiet, closeHandshake: 100 } },
    );
    const client = await connect(server.url('/t'));
    const channel = await probe.channel();
    client.ws.pause();
    const started = Date.now();
    await withTimeout(channel.close(1000, 'bye'), 2000, 'close deadline');
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_CLOSE_TIMEOUT']);
    client.ws.resume();
    await client.waitClosed();
  });

  it('terminates when queued bytes make no progress for sendStall', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      { '/t': probe.route },
      {
        timeouts: { heartbeat: false, sendStall: 150 },
        backpressure: { maxBufferedBytes: '64mb' },
      },
    );
    const client = await connect(server.url('/t'));
    client.ws.pause();
    const channel = await probe.channel();
    for (let i = 0; i < 1000; i++) channel.trySend(Buffer.alloc(64 * 1024));
    await expect.poll(() => channel.state, { timeout: 3000 }).toBe('closed');
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_WRITE_TIMEOUT']);
    client.ws.resume();
    await client.waitClosed();
  });

  it('answers 408 when upgrade middleware does not finish within the handshake timeout', async () => {
    const hub = createHub({ timeouts: { handshake: 100 } });
    const httpServer = createServer();
    // Slow auth: the pending upgrade is never accepted.
    httpServer.on('upgrade', (req, socket, head) => void hub.beginUpgrade(req, socket, head));
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    const { port } = httpServer.address() as AddressInfo;
    const refusal = await expectRefusal(`ws://127.0.0.1:${port}/slow`);
    expect(refusal.status).toBe(408);
    expect(refusal.headers['x-wslane-error']).toBe('WSLANE_HANDSHAKE_TIMEOUT');
    expect(hub.stats().timers).toBe(0);
    await hub.close();
    httpServer.closeAllConnections();
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  });

  it('drops a client that completes TCP but never finishes its upgrade request', async () => {
    const hub = createHub({ timeouts: { handshake: 100 } });
    const httpServer = createServer({ connectionsCheckingInterval: 20 });
    hub.attach(httpServer, { '/t': createProbe().route });
    expect(httpServer.headersTimeout).toBe(100);
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    const { port } = httpServer.address() as AddressInfo;
    const socket = connectTcp(port, '127.0.0.1');
    socket.write('GET /t HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n');
    let response = '';
    socket.on('data', (chunk) => {
      response += chunk.toString();
    });
    await withTimeout(
      new Promise((resolve) => socket.on('close', resolve)),
      3000,
      'slowloris dropped',
    );
    expect(response).toMatch(/^HTTP\/1\.1 408/);
    await hub.close();
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  });

  it('drives every channel from one shared timer', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/t': probe.route }, { timeouts: { idle: '1m' } });
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const clients = await Promise.all(Array.from({ length: 200 }, () => connect(server.url('/t'))));
    expect(server.hub.stats()).toMatchObject({ active: 200, timers: 1 });
    const timersAfter = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(timersAfter - timersBefore).toBeLessThanOrEqual(1);
    await Promise.all(clients.map((c) => c.close()));
    await expect.poll(() => server.hub.stats().timers).toBe(0);
  });
});
