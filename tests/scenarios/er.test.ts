import type { Socket } from 'node:net';
import { type Channel, ConfigError, json, parseConfig } from '@wslane/core';
import { connect, type TestClient } from '@wslane/core/testing';
import { describe, expect, it, vi } from 'vitest';
import { createProbe, deferred } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { acceptedSockets, webSocketOf } from './helpers/accepted-sockets.js';

// A throw or an unhandled rejection anywhere fails the run (scripts/vitest-setup.ts): every
// scenario here provokes one of the situations and relies on that, plus its own assertions.
const start = useHubServers();

function spyLogger() {
  return { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
}

/** What `action` throws synchronously, or `undefined`. */
function thrownBy(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('ER: errors and crash safety', () => {
  it('ER-01 handlers that throw or reject: each affected channel gets one onError and 1011, the rest serve on', async () => {
    // Scaled from 1,000 messages per channel to 100 (a failure at message 50 of 20 channels).
    const probe = createProbe({
      onMessage: async (message, channel) => {
        const [kind, n] = String(message).split(':');
        if (n === '50' && kind === 'sync') throw new Error('sync handler bug');
        if (n === '50' && kind === 'async') {
          await Promise.resolve();
          throw new Error('async handler bug');
        }
        await channel.send(`ok:${n}`);
      },
    });
    // A queue deep enough that reads never pause: inbound backpressure is BP-04's subject.
    const server = await start(
      { '/t': probe.route },
      { limits: { rateLimit: false, inboundQueue: 256 } },
    );
    const clients = await Promise.all(Array.from({ length: 100 }, () => connect(server.url('/t'))));
    const kindOf = (i: number): string => (i < 10 ? 'sync' : i < 20 ? 'async' : 'clean');
    for (const [i, client] of clients.entries()) {
      for (let n = 0; n < 100; n++) client.ws.send(`${kindOf(i)}:${n}`);
    }
    await Promise.all(
      clients.map(async (client, i) => {
        const expected = kindOf(i) === 'clean' ? 100 : 50;
        const received = await client.take(expected, 4000);
        expect(received).toEqual(Array.from({ length: expected }, (_, n) => `ok:${n}`));
        if (kindOf(i) !== 'clean') expect((await client.waitClosed()).code).toBe(1011);
      }),
    );
    expect(probe.errors).toHaveLength(20);
    expect(new Set(probe.errors.map((e) => e.channel)).size).toBe(20);
    expect(probe.errors.every((e) => e.code === 'WSLANE_HANDLER_FAILED')).toBe(true);
    await expect.poll(() => server.hub.stats().active).toBe(80);
    await Promise.all(clients.slice(20).map((client) => client.close()));
  });

  it('ER-02 hooks that throw during teardown are logged once each; release still completes', async () => {
    // wslane has no room-leave hook: leaving rooms is part of release, which no hook can stop;
    // a leave() from a throwing onClose is a no-op.
    const logger = spyLogger();
    const hookBug = new Error('onError bug');
    const probe = createProbe<string, string>({
      onOpen: (channel) => channel.join('lobby'),
      onMessage: (message) => {
        if (message === 'fail') throw new Error('handler bug');
      },
      // The first channel's onClose throws, the second one's rejects.
      onClose: (channel) => {
        channel.leave('lobby');
        if (channel === probe.channels[0]) throw new Error('onClose bug');
        return Promise.reject(new Error('async onClose bug'));
      },
      onError: () => {
        throw hookBug;
      },
    });
    const server = await start({ '/t': probe.route }, { logger });
    const failing = await connect(server.url('/t'));
    const closing = await connect(server.url('/t'));
    const [a, b] = [await probe.channel(0), await probe.channel(1)];
    expect(server.hub.stats().rooms).toEqual({ lobby: 2 });
    failing.ws.send('fail');
    expect((await failing.waitClosed()).code).toBe(1011);
    await closing.close();
    await expect.poll(() => server.hub.stats().active).toBe(0);
    // Per channel: the failure (handler bug, then onClose bug) reported, and the throwing
    // onError logged each time instead of escaping.
    await expect.poll(() => logger.error.mock.calls.length).toBe(3);
    const warned = logger.warn.mock.calls.map(([, detail]) => (detail as { code: string }).code);
    expect(warned).toEqual([
      'WSLANE_HANDLER_FAILED',
      'WSLANE_HANDLER_FAILED',
      'WSLANE_HANDLER_FAILED',
    ]);
    for (const [, detail] of logger.error.mock.calls) {
      expect((detail as { cause: unknown }).cause).toBe(hookBug);
    }
    const stats = server.hub.stats();
    expect(stats).toMatchObject({ active: 0, created: 2, released: 2, rooms: {}, timers: 0 });
    expect([a.state, b.state]).toEqual(['closed', 'closed']);
    expect(server.hub.channels.get(a.id)).toBeUndefined();
  });

  it('ER-03 invalid close arguments never reach ws: refused before anything changes, reasons cut', async () => {
    const probe = createProbe({
      codec: json(),
      onMessage: (_m, channel) => channel.send({ ok: true }),
    });
    const server = await start({ '/t': probe.route, '/json': probe.route });
    const client = await connect(server.url('/t'));
    const channel = await probe.channel();
    for (const code of [1004, 1005, 1006, 1015, 999, 99_999, 2000, 4000.5]) {
      const error = thrownBy(() => channel.close(code));
      expect({ code, error: (error as { code?: string })?.code }).toEqual({
        code,
        error: 'WSLANE_INVALID_ARGUMENT',
      });
    }
    // Nothing changed: the channel still works.
    expect(channel.state).toBe('open');
    client.ws.send('{}');
    expect(await client.next()).toBe('{"ok":true}');
    // A long reason of 4-byte characters is cut to 123 bytes on a character boundary.
    await channel.close(4000, '😀'.repeat(125));
    const closed = await client.waitClosed();
    expect(closed).toEqual({ code: 4000, reason: '😀'.repeat(30) });
    // An internal close that comes from an error (a JSON parse error) names it in 123 bytes,
    // without the payload.
    const bad = await connect(server.url('/json'));
    const payload = `{"secret":"${'x'.repeat(500)}`;
    bad.ws.send(payload);
    const parseClose = await bad.waitClosed();
    expect(parseClose.code).toBe(1007);
    expect(Buffer.byteLength(parseClose.reason)).toBeLessThanOrEqual(123);
    expect(parseClose.reason).not.toContain('secret');
    // Configured close codes are checked when the config is, never when a timer fires.
    const configError = thrownBy(() => parseConfig({ closeCodes: { idle: 1006 } }));
    expect(configError).toBeInstanceOf(ConfigError);
    expect((configError as ConfigError).issues.map((issue) => issue.path)).toEqual([
      'closeCodes.idle',
    ]);
  });

  it('ER-03 hub.close() with an invalid code throws before anything changes; the hub keeps serving', async () => {
    const probe = createProbe({ onMessage: (m, c) => c.send(m) });
    const server = await start({ '/t': probe.route });
    const client = await connect(server.url('/t'));
    const error = thrownBy(() => server.hub.close({ code: 1006 }));
    expect((error as { code?: string })?.code).toBe('WSLANE_INVALID_ARGUMENT');
    expect(server.hub.state).toBe('open');
    client.ws.send('still served');
    expect(await client.next()).toBe('still served');
    const newcomer = await connect(server.url('/t'));
    newcomer.ws.send('welcome');
    expect(await newcomer.next()).toBe('welcome');
    // A long shutdown reason is cut like any other.
    const closing = server.hub.close({ reason: 'é'.repeat(100) });
    expect(await client.waitClosed()).toEqual({ code: 1001, reason: 'é'.repeat(61) });
    await newcomer.waitClosed();
    await closing;
  });

  it('ER-04 errors on the socket and the ws instance at every stage never go unhandled', async () => {
    const auth = deferred();
    let inAuth = false;
    const probe = createProbe();
    const server = await start({
      '/t': probe.route,
      '/slow': {
        route: probe.route,
        context: async () => {
          inAuth = true;
          await auth.promise;
          return {};
        },
      },
    });
    const sockets = acceptedSockets(server.server);
    const inject = (socket: Socket, stage: string): void => {
      const ws = webSocketOf(socket);
      expect({ stage, socket: socket.listenerCount('error') > 0 }).toEqual({ stage, socket: true });
      if (ws !== undefined) {
        expect({ stage, ws: ws.listenerCount('error') > 0 }).toEqual({ stage, ws: true });
      }
      expect(thrownBy(() => socket.emit('error', new Error(`socket error ${stage}`)))).toBe(
        undefined,
      );
      expect(thrownBy(() => ws?.emit('error', new Error(`ws error ${stage}`)))).toBe(undefined);
    };

    // Before open: the upgrade waits in async auth.
    const early = new (await import('ws')).default(server.url('/slow'));
    early.on('error', () => {});
    await expect.poll(() => inAuth).toBe(true);
    expect(sockets).toHaveLength(1);
    try {
      inject(sockets[0] as Socket, 'before open');
    } finally {
      auth.resolve();
    }
    await expect.poll(() => sockets[0]?.destroyed).toBe(true);
    await expect.poll(() => early.readyState).toBe(early.CLOSED);
    expect(server.hub.stats()).toMatchObject({ created: 0, pending: 0 });

    // Open, then closing, then after close, each on its own channel.
    const open = await connect(server.url('/t'));
    await expect.poll(() => sockets.length).toBe(2);
    inject(sockets[1] as Socket, 'open');
    expect((await open.waitClosed()).code).toBe(1006);

    const closingClient = await connect(server.url('/t'));
    const closingChannel = await probe.channel(1);
    closingClient.ws.pause();
    void closingChannel.close(1000);
    expect(closingChannel.state).toBe('closing');
    inject(sockets[2] as Socket, 'closing');
    closingClient.ws.resume();
    await closingClient.waitClosed();

    const done = await connect(server.url('/t'));
    const doneChannel = await probe.channel(2);
    await done.close();
    await expect.poll(() => doneChannel.state).toBe('closed');
    inject(sockets[3] as Socket, 'after close');

    // Real errors: a peer that resets while the server writes to it.
    const resetting: TestClient = await connect(server.url('/t'));
    const writing: Channel = await probe.channel(3);
    const producer = setInterval(() => writing.trySend(Buffer.alloc(64 * 1024)), 1);
    (resetting.ws as unknown as { _socket: Socket })._socket.resetAndDestroy();
    await expect.poll(() => writing.state).toBe('closed');
    clearInterval(producer);
    expect(server.hub.stats()).toMatchObject({ active: 0, pending: 0 });
  });
});
