import { json, lengthPrefixed, lines } from '@wslane/core';
import { connect } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';

const startHubServer = useHubServers();

const Say = z.object({ type: z.literal('say'), text: z.string().max(20) });

describe('codecs on a live channel', () => {
  it('json: typed messages in, validated messages out', async () => {
    const probe = createProbe({
      codec: json(Say, { outbound: z.object({ echo: z.string() }) }),
      onMessage: (message, channel) => channel.send({ echo: message.text.toUpperCase() }),
    });
    const server = await startHubServer({ '/j': probe.route });
    const client = await connect(server.url('/j'));
    client.ws.send(JSON.stringify({ type: 'say', text: 'hi' }));
    expect(await client.nextJson()).toEqual({ echo: 'HI' });
    await expect((await probe.channel()).send({ echo: 42 } as never)).rejects.toMatchObject({
      code: 'WSLANE_CODEC_ENCODE',
    });
    await client.close();
  });

  it('json: closes with 1007 on a schema failure, without echoing the payload', async () => {
    const probe = createProbe({ codec: json(Say) });
    const server = await startHubServer({ '/j': probe.route });
    const client = await connect(server.url('/j'));
    client.ws.send(JSON.stringify({ type: 'say', text: 'secret-token-'.repeat(5) }));
    const { code, reason } = await client.waitClosed();
    expect(code).toBe(1007);
    expect(reason).not.toContain('secret-token');
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_CODEC_DECODE']);
  });

  it('json: closes with 1003 on a binary frame', async () => {
    const probe = createProbe({ codec: json() });
    const server = await startHubServer({ '/j': probe.route });
    const client = await connect(server.url('/j'));
    client.ws.send(Buffer.from('{}'));
    expect((await client.waitClosed()).code).toBe(1003);
  });

  it('json: onInvalidMessage keeps the connection and keeps message order', async () => {
    const probe = createProbe({
      codec: json(Say),
      onMessage: (message, channel) => channel.send({ ok: message.text }),
      onInvalidMessage: (error, channel) => channel.send({ error: error.code }),
    });
    const server = await startHubServer({ '/j': probe.route });
    const client = await connect(server.url('/j'));
    client.ws.send(JSON.stringify({ type: 'say', text: 'one' }));
    client.ws.send('not json');
    client.ws.send(JSON.stringify({ type: 'say', text: 'two' }));
    expect(await client.nextJson()).toEqual({ ok: 'one' });
    expect(await client.nextJson()).toEqual({ error: 'WSLANE_CODEC_DECODE' });
    expect(await client.nextJson()).toEqual({ ok: 'two' });
    await client.close();
  });

  it('lines: records split across frames and merged in frames, terminator appended on send', async () => {
    const probe = createProbe({
      codec: lines({ maxLineBytes: 64 }),
      onMessage: (line, channel) => channel.send(`<${line}>`),
    });
    const server = await startHubServer({ '/l': probe.route });
    const client = await connect(server.url('/l'));
    for (const frame of ['al', 'pha\r', '\nbeta\r\ngam', 'ma\r\n']) client.ws.send(frame);
    expect(await client.take(3)).toEqual(['<alpha>\r\n', '<beta>\r\n', '<gamma>\r\n']);
    await client.close();
  });

  it('lines: closes with 1009 when a record grows past maxLineBytes', async () => {
    const probe = createProbe({ codec: lines({ maxLineBytes: 64 }) });
    const server = await startHubServer({ '/l': probe.route });
    const client = await connect(server.url('/l'));
    client.ws.send('x'.repeat(40));
    client.ws.send('x'.repeat(40));
    expect((await client.waitClosed()).code).toBe(1009);
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_MESSAGE_TOO_BIG']);
  });

  it('lengthPrefixed: binary records across frames; text frames close with 1003', async () => {
    const probe = createProbe({
      codec: lengthPrefixed({ headerBytes: 2, maxFrameBytes: 1024 }),
      onMessage: (record, channel) => channel.send(Buffer.from(record).reverse()),
    });
    const server = await startHubServer({ '/b': probe.route });
    const client = await connect(server.url('/b'));
    const wire = Buffer.from([0, 3, 1, 2, 3, 0, 2, 9, 8]);
    client.ws.send(wire.subarray(0, 1));
    client.ws.send(wire.subarray(1, 6));
    client.ws.send(wire.subarray(6));
    expect(await client.take(2)).toEqual([Buffer.from([0, 3, 3, 2, 1]), Buffer.from([0, 2, 8, 9])]);
    client.ws.send('text');
    expect((await client.waitClosed()).code).toBe(1003);
  });

  it('broadcast encodes once per codec across routes with different codecs', async () => {
    const jsonProbe = createProbe({ codec: json(), onOpen: (c) => c.join('mixed') });
    const linesProbe = createProbe({ codec: lines(), onOpen: (c) => c.join('mixed') });
    const server = await startHubServer({ '/j': jsonProbe.route, '/l': linesProbe.route });
    const a = await connect(server.url('/j'));
    const b = await connect(server.url('/l'));
    await jsonProbe.channel();
    await linesProbe.channel();
    const result = server.hub.channels.room('mixed').broadcast('hello');
    expect(result.delivered).toBe(2);
    expect(await a.next()).toBe('"hello"');
    expect(await b.next()).toBe('hello\r\n');
    await a.close();
    await b.close();
  });
});
