import { withTimeout } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { channelsOf, serverChannel, useConformanceApps } from '../conformance-apps.js';
import { harnesses } from '../harnesses.js';
import { httpUrl, keepBusy } from '../helpers.js';

describe.each(harnesses)('conformance: $name: channel lifecycle', (harness) => {
  const start = useConformanceApps(harness);

  it('puts path params in the context and keeps a room broadcast inside its room', async () => {
    const app = await start();
    const first = await app.connect('/ws/rooms/lobby');
    const second = await app.connect('/ws/rooms/lobby');
    const outsider = await app.connect('/ws/rooms/other');
    await expect.poll(() => app.hub.stats().rooms).toEqual({ lobby: 2, other: 1 });
    expect(channelsOf(app, 'rooms').map((channel) => channel.context)).toEqual([
      { params: { room: 'lobby' }, query: {} },
      { params: { room: 'lobby' }, query: {} },
      { params: { room: 'other' }, query: {} },
    ]);
    first.ws.send('hi');
    expect(await first.next()).toBe('lobby:hi');
    expect(await second.next()).toBe('lobby:hi');
    // Had 'lobby:hi' reached the outsider, it would arrive before its own room's answer.
    outsider.ws.send('x');
    expect(await outsider.next()).toBe('other:x');
    second.ws.send('y');
    expect(await first.next()).toBe('lobby:y');
    expect(await second.next()).toBe('lobby:y');
    await Promise.all([first.close(), second.close(), outsider.close()]);
  });

  it('keeps serving plain HTTP requests next to open WebSockets', async () => {
    const app = await start();
    const client = await app.connect('/ws/echo');
    const response = await fetch(httpUrl(app, '/health'), { signal: AbortSignal.timeout(2000) });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('ok');
    client.ws.send('still here');
    expect(await client.next()).toBe('still here');
    await client.close();
  });

  it('delivers every message sent before onOpen finished, after it, in order', async () => {
    const app = await start();
    const client = await app.connect('/ws/slow-open');
    const sent = Array.from({ length: 20 }, (_, i) => `early${i}`);
    for (const message of sent) client.ws.send(message);
    expect(await client.next()).toBe('ready');
    expect(await client.take(sent.length)).toEqual(sent);
    await client.close();
  });

  it('closes a channel whose handler throws with 1011 and keeps serving the others', async () => {
    const app = await start();
    const bystander = await app.connect('/ws/echo');
    const failing = await app.connect('/ws/fail');
    failing.ws.send('boom');
    expect((await failing.waitClosed()).code).toBe(1011);
    bystander.ws.send('unaffected');
    expect(await bystander.next()).toBe('unaffected');
    await (await app.connect('/ws/fail')).close();
    await bystander.close();
  });

  it("closes with 4408 after the route's idle timeout, leaving other routes open", async () => {
    const app = await start();
    const bystander = await app.connect('/ws/echo');
    const client = await app.connect('/ws/idle');
    const openedAt = Date.now();
    expect((await client.waitClosed()).code).toBe(4408);
    // The override is 150 ms: a close much earlier would not be the idle deadline.
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(100);
    bystander.ws.send('awake');
    expect(await bystander.next()).toBe('awake');
    await bystander.close();
  });

  it("never lets Node's HTTP request timeouts kill an upgraded socket", async () => {
    // Round trips as fast as the loopback allows: the inbound rate limit is not under test here.
    const app = await start(
      { limits: { rateLimit: false } },
      { headersTimeout: 100, requestTimeout: 200, connectionsCheckingInterval: 20 },
    );
    expect(app.server).toMatchObject({ headersTimeout: 100, requestTimeout: 200 });
    const quiet = await app.connect('/ws/echo');
    const client = await app.connect('/ws/echo');
    // Three request timeouts and thirty connection checks, with the socket busy all along.
    expect(await keepBusy(client, 600)).toBeGreaterThan(1);
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    // A connection that stayed silent all along is no HTTP request to time out either.
    quiet.ws.send('still open');
    expect(await quiet.next()).toBe('still open');
    expect(app.hub.stats().active).toBe(2);
    await Promise.all([client.close(), quiet.close()]);
  });

  it('shuts down gracefully: queued messages first, then 1001, then nothing left', async () => {
    const app = await start({ backpressure: { highWaterMark: 1024 } });
    expect(app.hub.config.backpressure.highWaterMark).toBe(1024);
    const client = await app.connect('/ws/echo');
    const channel = await serverChannel(app, 'echo');
    const payload = 'q'.repeat(500);
    const sends = Array.from({ length: 50 }, (_, i) => channel.send(`${i}:${payload}`));
    // Over the high-water mark: most of them wait in the lane when the shutdown starts.
    expect(channel.stats.bufferedBytes).toBeGreaterThan(1024);
    const closing = app.close();
    await expect(Promise.all(sends)).resolves.toEqual(sends.map(() => true));
    const received = (await client.take(sends.length)).map((m) => String(m).split(':')[0]);
    expect(received).toEqual(sends.map((_, i) => String(i)));
    expect((await client.waitClosed()).code).toBe(1001);
    await withTimeout(closing, 3000, 'app.close()');
    expect(app.hub.stats()).toMatchObject({ state: 'closed', active: 0, pending: 0, timers: 0 });
    expect(app.server.listening).toBe(false);
  });
});
