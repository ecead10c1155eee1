import type { Socket } from 'node:net';
import type { Channel, RouteOptions } from '@wslane/core';
import { connect, type TestClient, withTimeout } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { acceptedSockets, webSocketOf } from './helpers/accepted-sockets.js';
import type { Live } from './helpers/tm-live-channel.js';

const start = useHubServers();

interface ClosePath {
  readonly path: string;
  readonly options?: RouteOptions;
  readonly clientOptions?: Parameters<typeof connect>[1];
  /** Ends the channel; `open` opens further clients on the same route. */
  trigger(
    live: Live,
    open: (query?: string) => Promise<TestClient>,
    hubClose: () => Promise<void>,
  ): Promise<unknown>;
}

const closePaths: ClosePath[] = [
  { path: 'peer close', trigger: ({ client }) => client.close() },
  { path: 'server close', trigger: ({ channel }) => channel.close(1000) },
  { path: 'terminate', trigger: async ({ channel }) => channel.terminate() },
  {
    path: 'protocol error',
    trigger: async ({ client }) => {
      // A masked frame with reserved opcode 3: ws closes with 1002.
      const raw = (client.ws as unknown as { _socket: Socket })._socket;
      raw.write(Buffer.from([0x83, 0x80, 1, 2, 3, 4]));
    },
  },
  { path: 'handler error', trigger: async ({ client }) => client.ws.send('throw') },
  { path: 'idle', options: { timeouts: { idle: 100 } }, trigger: async () => {} },
  {
    path: 'heartbeat',
    options: { timeouts: { heartbeat: { interval: 50, timeout: 50 } } },
    clientOptions: { autoPong: false },
    trigger: async () => {},
  },
  { path: 'lifetime', options: { timeouts: { maxLifetime: 100 } }, trigger: async () => {} },
  {
    path: 'send stall',
    options: {
      timeouts: { sendStall: 100 },
      backpressure: { maxBufferedBytes: '64mb', overflow: 'drop-newest' },
    },
    trigger: async ({ client, channel }) => {
      client.ws.pause();
      for (let i = 0; i < 400; i++) channel.trySend(Buffer.alloc(64 * 1024));
    },
  },
  { path: 'replacement', trigger: async (_live, open) => open() },
  { path: 'shutdown', trigger: async (_live, _open, hubClose) => void hubClose() },
  { path: 'failure during onOpen', trigger: async (_live, open) => open('fail') },
];

describe('TM-09 every close path clears every timer', () => {
  it.each(closePaths)('TM-09 every close path clears every timer: $path', async (row) => {
    const failOpen = row.path === 'failure during onOpen';
    const probe = createProbe({
      key: (context: unknown) => (context as { user: string }).user,
      options: { ...row.options, timeouts: { closeHandshake: 200, ...row.options?.timeouts } },
      onOpen: (channel) => {
        channel.join('lobby');
        if ((channel.context as { fail?: boolean }).fail) throw new Error('onOpen failed');
      },
      onMessage: (message) => {
        if (message === 'throw') throw new Error('handler failed');
      },
    });
    const context = (req: { url?: string }) => {
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      return { user: 'u1', fail: query.has('fail') };
    };
    const server = await start({ '/t': { route: probe.route, context } });
    const sockets = acceptedSockets(server.server);
    const opened: TestClient[] = [];
    const open = async (query = ''): Promise<TestClient> => {
      const client = await connect(
        server.url(`/t${query === '' ? '' : `?${query}`}`),
        row.clientOptions,
      );
      opened.push(client);
      return client;
    };
    const client = failOpen ? undefined : await open();
    const channel = failOpen ? undefined : await probe.channel(0);
    let aborts = 0;
    channel?.signal.addEventListener('abort', () => aborts++);
    const live = { client, channel, serverSocket: sockets[0] } as Live;
    await row.trigger(live, open, () => server.hub.close({ timeout: 500 }));
    const ended = failOpen ? await probe.channel(0) : (channel as Channel);
    await expect.poll(() => ended.state, { timeout: 3000 }).toBe('closed');
    if (!failOpen) expect(aborts).toBe(1);
    expect(ended.signal.aborted).toBe(true);
    expect(ended.rooms.size).toBe(0);
    const ws = webSocketOf(sockets[0] as Socket);
    expect(ws).toBeDefined();
    expect(sockets[0]?.destroyed).toBe(true);
    for (const event of ['message', 'ping', 'pong', 'close'] as const) {
      expect({ event, listeners: ws?.listenerCount(event) }).toEqual({ event, listeners: 0 });
    }
    const replaced = row.path === 'replacement';
    const stats = server.hub.stats();
    expect(stats).toMatchObject({
      active: replaced ? 1 : 0,
      timers: replaced ? 1 : 0,
      rooms: replaced ? { lobby: 1 } : {},
    });
    expect(server.hub.channels.getByKey(probe.route.name, 'u1')).toBe(
      replaced ? probe.channels[1] : undefined,
    );
    for (const each of opened) {
      each.ws.resume();
      await withTimeout(each.close(), 2000, 'client close');
    }
  });
});
