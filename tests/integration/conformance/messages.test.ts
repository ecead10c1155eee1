import { describe, expect, it } from 'vitest';
import { serverChannel, useConformanceApps } from '../conformance-apps.js';
import { harnesses } from '../harnesses.js';

describe.each(harnesses)('conformance: $name: codecs and ordering', (harness) => {
  const start = useConformanceApps(harness);

  it('echoes text as text and binary as binary with the raw codec', async () => {
    const app = await start();
    const client = await app.connect('/ws/echo');
    client.ws.send('hello');
    client.ws.send(Buffer.from([1, 2]));
    expect(await client.next()).toBe('hello');
    expect(await client.next()).toEqual(Buffer.from([1, 2]));
    await client.close();
  });

  it('answers a valid json message with its echo object', async () => {
    const app = await start();
    const client = await app.connect('/ws/json');
    client.ws.send(JSON.stringify({ type: 'say', text: 'hi' }));
    client.ws.send(JSON.stringify({ type: 'say', text: 'there' }));
    expect(await client.nextJson()).toEqual({ echo: 'hi' });
    expect(await client.nextJson()).toEqual({ echo: 'there' });
    await client.close();
  });

  it('closes with 1007 when a json message is not JSON', async () => {
    const app = await start();
    const client = await app.connect('/ws/json');
    client.ws.send('{"type":"say",');
    expect((await client.waitClosed()).code).toBe(1007);
  });

  it('closes with 1007 when a json message fails the schema', async () => {
    const app = await start();
    const client = await app.connect('/ws/json');
    client.ws.send(JSON.stringify({ type: 'shout', text: 'hi' }));
    expect((await client.waitClosed()).code).toBe(1007);
  });

  it('splits a frame holding several lines and joins a line split across frames', async () => {
    const app = await start();
    const client = await app.connect('/ws/lines');
    client.ws.send('a\r\nb\r\n');
    client.ws.send('he');
    client.ws.send('llo\r');
    client.ws.send('\nx\r\n');
    expect(await client.take(4)).toEqual(['<a>\r\n', '<b>\r\n', '<hello>\r\n', '<x>\r\n']);
    await client.close();
  });

  it('closes with 1009 as soon as an unterminated line exceeds 64 bytes', async () => {
    const app = await start();
    const client = await app.connect('/ws/lines');
    // 62 bytes is the longest line whose "<…>" echo still fits in 64 bytes.
    client.ws.send(`${'x'.repeat(62)}\r\n`);
    expect(await client.next()).toBe(`<${'x'.repeat(62)}>\r\n`);
    client.ws.send('y'.repeat(40));
    client.ws.send('y'.repeat(25));
    expect((await client.waitClosed()).code).toBe(1009);
  });

  it('returns many messages sent back-to-back in the order they were sent', async () => {
    const app = await start();
    const client = await app.connect('/ws/echo');
    const sent = Array.from({ length: 500 }, (_, i) => `m${i}`);
    for (const message of sent) client.ws.send(message);
    expect(await client.take(sent.length)).toEqual(sent);
    await client.close();
  });

  it("keeps each server-side producer's order when several send on one channel at once", async () => {
    const app = await start();
    const client = await app.connect('/ws/echo');
    const channel = await serverChannel(app, 'echo');
    const producers = 4;
    const perProducer = 50;
    const produce = async (producer: number): Promise<void> => {
      for (let i = 0; i < perProducer; i++) {
        // Odd producers yield between sends, even ones do not: their sends interleave.
        if (producer % 2 === 1) await Promise.resolve();
        await channel.send(`${producer}:${i}`);
      }
    };
    await Promise.all(Array.from({ length: producers }, (_, p) => produce(p)));
    const received = (await client.take(producers * perProducer)).map(String);
    for (let p = 0; p < producers; p++) {
      const mine = received.filter((m) => m.startsWith(`${p}:`)).map((m) => m.slice(2));
      expect(mine).toEqual(Array.from({ length: perProducer }, (_, i) => String(i)));
    }
    await client.close();
  });
});
