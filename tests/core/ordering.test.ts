import { type Channel, createRoute } from '@wslane/core';
import { connect } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { useHubServers } from '../helpers/hub-server.js';

const startHubServer = useHubServers();

describe('lane ordering', () => {
  it('echoes text and binary unchanged, in order', async () => {
    const echo = createRoute({ onMessage: (message, channel) => channel.send(message) });
    const server = await startHubServer({ '/echo': echo });
    const client = await connect(server.url('/echo'));
    client.ws.send('hello');
    client.ws.send(Buffer.from([1, 2, 3]));
    expect(await client.next()).toBe('hello');
    expect(await client.next()).toEqual(Buffer.from([1, 2, 3]));
    await client.close();
  });

  it('delivers 8 producers x 10,000 awaited sends, each producer in its own order', async () => {
    let opened: Channel | undefined;
    const route = createRoute({
      onOpen: (channel) => {
        opened = channel;
      },
    });
    const server = await startHubServer({ '/p': route });
    const client = await connect(server.url('/p'));
    await expect.poll(() => opened).toBeDefined();
    const channel = opened as Channel;
    const producers = Array.from({ length: 8 }, async (_, p) => {
      for (let i = 0; i < 10_000; i++) {
        await channel.send(`${p}:${i}`);
        if (i % 7 === 0) await Promise.resolve();
      }
    });
    const received = await client.take(80_000, 20_000);
    await Promise.all(producers);
    const next = new Array<number>(8).fill(0);
    for (const message of received) {
      const [p, i] = String(message).split(':').map(Number) as [number, number];
      expect(i).toBe(next[p]);
      next[p] = i + 1;
    }
    expect(next).toEqual(new Array(8).fill(10_000));
    await client.close();
  }, 30_000);
});
