import { describe, expect, it } from 'vitest';
import { closePayload } from '../helpers/frame-encoder.js';
import { upgradeRequest } from '../helpers/http-upgrade.js';
import { SILENT, WireClient } from '../helpers/wire-client.js';
import { OP } from '../helpers/wire-frames.js';
import { type RawServer, useRawServer } from './raw-harness.js';

const startRawServer = useRawServer();

/** Opens a raw client on `/raw` and waits until the server holds its channel. */
async function rawChannel(raw: RawServer): Promise<WireClient> {
  const before = raw.probe.channels.length;
  const client = await WireClient.open(raw.server.url('/raw'), SILENT);
  await raw.probe.channel(before);
  return client;
}

/** After the abuse: the channel is released, nothing queued is kept, the server serves others. */
async function expectReleasedAndHealthy(raw: RawServer): Promise<void> {
  await expect.poll(() => raw.server.hub.stats().active).toBe(1); // the health client
  expect(raw.server.hub.stats().pending).toBe(0);
  for (const channel of raw.probe.channels) {
    expect(channel.state).toBe('closed');
    expect(channel.stats.bufferedBytes).toBe(0);
  }
  await raw.expectHealthy();
}

const RESERVED_OPCODES = [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf];

describe('frames a well-behaved client never sends', () => {
  it.each(RESERVED_OPCODES)('closes with 1002 on reserved opcode 0x%s', async (opcode) => {
    const raw = await startRawServer();
    const client = await rawChannel(raw);
    await client.sendFrame({ opcode, payload: 'x' });
    expect(await client.closeCode()).toBe(1002);
    expect(raw.probe.errors.map((e) => e.code)).toEqual(['WSLANE_PROTOCOL_ERROR']);
    await expectReleasedAndHealthy(raw);
  });

  it.each([
    ['text', OP.text],
    ['binary', OP.binary],
    ['ping', OP.ping],
    ['close', OP.close],
  ])('closes with 1002 on an unmasked %s frame', async (_name, opcode) => {
    const raw = await startRawServer();
    const client = await rawChannel(raw);
    const payload = opcode === OP.close ? closePayload(1000) : 'unmasked';
    await client.sendFrame({ opcode, payload, mask: false });
    expect(await client.closeCode()).toBe(1002);
    await expectReleasedAndHealthy(raw);
  });

  it.each([1, 2, 4, 7])(
    'closes with 1002 on RSV bits %i without a negotiated extension',
    async (rsv) => {
      const raw = await startRawServer();
      const client = await rawChannel(raw);
      await client.sendFrame({ opcode: OP.text, payload: 'x', rsv });
      expect(await client.closeCode()).toBe(1002);
      await expectReleasedAndHealthy(raw);
    },
  );

  it.each([0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535])(
    'closes with 1002 on a close frame with invalid code %i',
    async (code) => {
      const raw = await startRawServer();
      const client = await rawChannel(raw);
      await client.close(code, 'bye');
      expect(await client.closeCode()).toBe(1002);
      await expectReleasedAndHealthy(raw);
    },
  );

  it('closes with 1002 on a close frame with a 1-byte payload', async () => {
    const raw = await startRawServer();
    const client = await rawChannel(raw);
    await client.sendFrame({ opcode: OP.close, payload: Buffer.from([0x03]) });
    expect(await client.closeCode()).toBe(1002);
    await expectReleasedAndHealthy(raw);
  });

  it('closes with 1007 on a close reason that is not UTF-8', async () => {
    const raw = await startRawServer();
    const client = await rawChannel(raw);
    await client.close(1000, Buffer.from([0xc3, 0x28]));
    expect(await client.closeCode()).toBe(1007);
    await expectReleasedAndHealthy(raw);
  });

  it('closes with 1007 on a text message that is not UTF-8, even split across fragments', async () => {
    const raw = await startRawServer();
    const client = await rawChannel(raw);
    // A valid 2-byte sequence split between frames is fine; a lone continuation byte is not.
    await client.sendFrame({ opcode: OP.text, payload: Buffer.from([0x61, 0xc3]), fin: false });
    await client.sendFrame({ opcode: OP.continuation, payload: Buffer.from([0xa9]), fin: false });
    await client.sendFrame({ opcode: OP.continuation, payload: Buffer.from([0x80]) });
    expect(await client.closeCode()).toBe(1007);
    await expectReleasedAndHealthy(raw);
  });

  it.each([
    ['a fragmented ping', { opcode: OP.ping, payload: 'x', fin: false }],
    ['a ping with a 126-byte payload', { opcode: OP.ping, payload: Buffer.alloc(126) }],
    ['a continuation with no message started', { opcode: OP.continuation, payload: 'x' }],
  ])('closes with 1002 on %s', async (_name, spec) => {
    const raw = await startRawServer();
    const client = await rawChannel(raw);
    await client.sendFrame(spec);
    expect(await client.closeCode()).toBe(1002);
    await expectReleasedAndHealthy(raw);
  });

  it('closes with 1002 on a new data frame inside a fragmented message', async () => {
    const raw = await startRawServer();
    const client = await rawChannel(raw);
    await client.sendFrame({ opcode: OP.text, payload: 'first half', fin: false });
    await client.sendFrame({ opcode: OP.binary, payload: 'intruder' });
    expect(await client.closeCode()).toBe(1002);
    await expectReleasedAndHealthy(raw);
  });

  it('closes with 1009 on a length field over maxPayload before any payload arrives', async () => {
    const raw = await startRawServer({ limits: { maxPayload: '1kb' } });
    const client = await rawChannel(raw);
    // Only the header: the server must not wait for (or buffer) the 2^40 bytes it announces.
    await client.sendFrame({
      opcode: OP.binary,
      declaredLength: 2 ** 40,
      payload: Buffer.alloc(0),
    });
    expect(await client.closeCode()).toBe(1009);
    expect(raw.probe.errors.map((e) => e.code)).toEqual(['WSLANE_MESSAGE_TOO_BIG']);
    await expectReleasedAndHealthy(raw);
  });

  it('closes with 1009 on a 64-bit length beyond 2^53 and reports it as WSLANE_MESSAGE_TOO_BIG', async () => {
    const raw = await startRawServer();
    const client = await rawChannel(raw);
    const header = Buffer.from([0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    await client.write(Buffer.concat([header, Buffer.alloc(4)]));
    expect(await client.closeCode()).toBe(1009);
    // Over any maxPayload: the same error code as every other 1009 (ws reports it with its own
    // WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH, not WS_ERR_UNSUPPORTED_MESSAGE_LENGTH).
    expect(raw.probe.errors.map((e) => e.code)).toEqual(['WSLANE_MESSAGE_TOO_BIG']);
    await expectReleasedAndHealthy(raw);
  });

  it('closes with 1002 on garbage bytes after the handshake', async () => {
    const raw = await startRawServer();
    const client = await rawChannel(raw);
    // An HTTP request sent again: 'G' (0x47) has RSV1 set.
    await client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await client.closeCode()).toBe(1002);
    await expectReleasedAndHealthy(raw);
  });

  it('closes with 1002 on garbage pipelined behind the upgrade request (in the head)', async () => {
    const raw = await startRawServer();
    const client = await WireClient.tcp(raw.port, SILENT);
    const request = upgradeRequest({ path: '/raw' });
    await client.write(Buffer.concat([Buffer.from(request.text), Buffer.from([0xff, 0xff, 0x00])]));
    expect((await client.response()).status).toBe(101);
    expect(await client.closeCode()).toBe(1002);
    await expectReleasedAndHealthy(raw);
  });

  it('echoes the code of a valid client close and reports it to onClose', async () => {
    const closes: number[] = [];
    const raw = await startRawServer({}, { onClose: (_channel, code) => void closes.push(code) });
    const client = await rawChannel(raw);
    await client.close(4321, 'done');
    expect(await client.closeCode()).toBe(4321);
    await expect.poll(() => closes).toEqual([4321]);
    expect(raw.probe.errors).toEqual([]);
    await expectReleasedAndHealthy(raw);
  });

  it('accepts control frames between the fragments of a message and non-minimal lengths', async () => {
    const raw = await startRawServer();
    const client = await rawChannel(raw);
    await client.sendFrame({ opcode: OP.text, payload: 'he', fin: false });
    await client.sendFrame({ opcode: OP.ping, payload: 'p1' });
    await client.sendFrame({ opcode: OP.continuation, payload: 'll', fin: false, lengthForm: 16 });
    await client.sendFrame({ opcode: OP.pong, payload: 'unsolicited' });
    await client.sendFrame({ opcode: OP.continuation, payload: 'o', lengthForm: 64 });
    const pong = await client.waitFor((frame) => frame.opcode === OP.pong);
    const echo = await client.waitFor((frame) => frame.opcode === OP.text);
    expect(pong.payload.toString()).toBe('p1');
    expect(echo.payload.toString()).toBe('hello');
    expect(echo.fin).toBe(true);
    expect(echo.masked).toBe(false);
    await client.close();
    expect(await client.closeCode()).toBe(1000);
    await expectReleasedAndHealthy(raw);
  });
});
