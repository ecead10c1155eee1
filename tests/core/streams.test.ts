import type { Channel } from '@wslane/core';
import { connect } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { createProbe, deferred } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';

const startHubServer = useHubServers();

describe('streamed messages', () => {
  it('keeps a streamed message whole while other producers send between its chunks', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/s': probe.route });
    const client = await connect(server.url('/s'));
    const channel: Channel<string | Buffer> = await probe.channel();
    const gates = Array.from({ length: 5 }, () => deferred());
    async function* slowSource() {
      for (let i = 0; i < 5; i++) {
        await (gates[i] as { promise: Promise<void> }).promise;
        yield `part${i};`;
      }
    }
    const stream = channel.sendStream(slowSource(), { binary: false });
    const others: Promise<boolean>[] = [];
    for (let i = 0; i < 5; i++) {
      others.push(channel.send(`other${i}`));
      gates[i]?.resolve();
      await Promise.resolve();
    }
    await stream;
    await Promise.all(others);
    const received = await client.take(6);
    expect(received[0]).toBe('part0;part1;part2;part3;part4;');
    expect(received.slice(1)).toEqual(['other0', 'other1', 'other2', 'other3', 'other4']);
    await client.close();
  });

  it('sends a binary stream from a sync iterable as one message', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/s': probe.route });
    const client = await connect(server.url('/s'));
    const channel = await probe.channel();
    await channel.sendStream([Buffer.from([1]), Buffer.from([2, 3]), new Uint8Array([4])]);
    expect(await client.next()).toEqual(Buffer.from([1, 2, 3, 4]));
    await client.close();
  });

  it('closes with 1011 when a source fails after some frames were written', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/s': probe.route });
    const client = await connect(server.url('/s'));
    const channel = await probe.channel();
    async function* broken() {
      yield 'a';
      yield 'b';
      throw new Error('source failed');
    }
    const sent = channel.send('after');
    await expect(channel.sendStream(broken())).rejects.toMatchObject({
      code: 'WSLANE_STREAM_FAILED',
    });
    await expect(sent).resolves.toBe(true);
    expect((await client.waitClosed()).code).toBe(1011);
    expect(probe.errors.map((e) => e.code)).toContain('WSLANE_STREAM_FAILED');
  });
});
