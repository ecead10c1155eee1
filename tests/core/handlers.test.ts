import { connect } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { createProbe, deferred } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';

const startHubServer = useHubServers();

describe('handlers', () => {
  it('closes with 1011 and reports when onMessage throws, other channels unaffected', async () => {
    const probe = createProbe({
      onMessage: (message, channel) => {
        if (message === 'boom') throw new Error('handler bug');
        return channel.send(message).then(() => undefined);
      },
    });
    const server = await startHubServer({ '/h': probe.route });
    const victim = await connect(server.url('/h'));
    const bystander = await connect(server.url('/h'));
    victim.ws.send('boom');
    expect((await victim.waitClosed()).code).toBe(1011);
    expect(probe.errors).toEqual([
      { code: 'WSLANE_HANDLER_FAILED', channel: probe.channels[0]?.id },
    ]);
    bystander.ws.send('still here');
    expect(await bystander.next()).toBe('still here');
    await bystander.close();
  });

  it('closes with 1011 when onMessage rejects', async () => {
    const probe = createProbe({ onMessage: async () => Promise.reject(new Error('async bug')) });
    const server = await startHubServer({ '/h': probe.route });
    const client = await connect(server.url('/h'));
    client.ws.send('x');
    expect((await client.waitClosed()).code).toBe(1011);
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_HANDLER_FAILED']);
  });

  it('closes with 1011 when onOpen throws', async () => {
    const probe = createProbe({
      onOpen: () => {
        throw new Error('open bug');
      },
    });
    const server = await startHubServer({ '/h': probe.route });
    const client = await connect(server.url('/h'));
    expect((await client.waitClosed()).code).toBe(1011);
  });

  it('survives an onError hook that throws', async () => {
    const probe = createProbe({
      onMessage: () => {
        throw new Error('bug');
      },
      onError: () => {
        throw new Error('bug in the error hook');
      },
    });
    const server = await startHubServer({ '/h': probe.route });
    const client = await connect(server.url('/h'));
    client.ws.send('x');
    expect((await client.waitClosed()).code).toBe(1011);
  });

  it('delivers messages sent before onOpen finished, after it, in order', async () => {
    const gate = deferred();
    const seen: string[] = [];
    const probe = createProbe({
      onOpen: () => gate.promise,
      onMessage: (message) => {
        seen.push(String(message));
      },
    });
    const server = await startHubServer({ '/h': probe.route });
    const client = await connect(server.url('/h'));
    for (let i = 0; i < 10; i++) client.ws.send(`early${i}`);
    const channel = await probe.channel();
    await expect.poll(() => channel.stats.messagesIn).toBe(10);
    expect(seen).toEqual([]);
    gate.resolve();
    await expect.poll(() => seen.length).toBe(10);
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `early${i}`));
    await client.close();
  });

  it('runs one handler call at a time unless concurrency is raised', async () => {
    for (const concurrency of [1, 3]) {
      let running = 0;
      let peak = 0;
      const gates = Array.from({ length: 6 }, () => deferred());
      let call = 0;
      const probe = createProbe({
        options: { concurrency },
        onMessage: async () => {
          running++;
          peak = Math.max(peak, running);
          await gates[call++]?.promise;
          running--;
        },
      });
      const server = await startHubServer({ '/h': probe.route });
      const client = await connect(server.url('/h'));
      for (let i = 0; i < 6; i++) client.ws.send(String(i));
      await expect.poll(() => running).toBe(concurrency);
      for (const gate of gates) gate.resolve();
      await expect.poll(() => running).toBe(0);
      expect(peak).toBe(concurrency);
      await client.close();
      await server.close();
    }
  });

  it('pauses reads when the inbound queue is full instead of buffering', async () => {
    const gate = deferred();
    const probe = createProbe({
      options: { limits: { inboundQueue: 4 } },
      onMessage: () => gate.promise,
    });
    const server = await startHubServer({ '/h': probe.route });
    const client = await connect(server.url('/h'));
    const payload = 'p'.repeat(64 * 1024);
    for (let i = 0; i < 400; i++) client.ws.send(payload);
    const channel = await probe.channel();
    await expect.poll(() => channel.stats.messagesIn).toBeGreaterThanOrEqual(4);
    // 400 x 64 KiB = 25 MiB sent; the paused server takes only what one socket read holds.
    await expect.poll(() => client.ws.bufferedAmount).toBeGreaterThan(0);
    expect(channel.stats.messagesIn).toBeLessThan(100);
    gate.resolve();
    await expect.poll(() => channel.stats.messagesIn, { timeout: 4000 }).toBe(400);
    await client.close();
  });
});
