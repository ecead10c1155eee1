import type { AddressInfo } from 'node:net';
import { connect as connectTcp } from 'node:net';
import { withTimeout } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { useConformanceApps } from '../integration/conformance-apps.js';
import { AUTH } from '../integration/conformance-routes.js';
import { harnesses } from '../integration/harnesses.js';
import { connectionsOf } from './helpers/op-apps.js';
import { textFrames, texts } from './helpers/op-fixtures.js';
import { rawUpgrade } from './helpers/raw-upgrade.js';
import { useWireClients } from './helpers/use-wire-clients.js';
import { OP } from './helpers/wire-frames.js';

const openWire = useWireClients();

describe.each(harnesses)('OP on $name (conformance apps)', (harness) => {
  const start = useConformanceApps(harness);

  it('OP-01 client sends immediately while onOpen is still running', async () => {
    const app = await start();
    const client = await app.connect('/ws/slow-open');
    const sent = Array.from({ length: 10 }, (_, i) => `early${i}`);
    for (const message of sent) client.ws.send(message);
    expect(await client.next()).toBe('ready');
    expect(await client.take(10)).toEqual(sent);
    await client.close();
  });

  it('OP-02 frames that arrive with the upgrade request are delivered after open, in order', async () => {
    const app = await start();
    const extra = textFrames('first', 'second');
    const client = await openWire(app.url('/ws/echo'), { extra });
    await client.waitForCount((f) => f.opcode === OP.text, 2);
    expect(texts(client)).toEqual(['first', 'second']);
    await client.close();
    await client.waitEnded();
  });

  it('OP-02 frames sent with a refused upgrade request are discarded behind a 401', async () => {
    const app = await start();
    const extra = textFrames('first', 'second');
    const answer = await rawUpgrade(app.url('/ws/whoami'), { extra });
    expect(answer.status).toBe(401);
    expect(app.hub.stats()).toMatchObject({ created: 0, messagesIn: 0 });
  });

  it('OP-06 refused upgrades are answered and closed before the handshake', async () => {
    const app = await start({ origins: ['https://ok.example'] });
    const holder = await app.connect('/ws/keyed-refuse?user=K');
    const capped = await start({ limits: { maxConnectionsPerIp: 1 } });
    const heldPerIp = await capped.connect('/ws/echo');
    const full = await start({ limits: { maxConnections: 1 } });
    const heldTotal = await full.connect('/ws/echo');
    const cases: [number, string, Parameters<typeof rawUpgrade>[1], typeof app][] = [
      [401, '/ws/whoami', {}, app],
      [403, '/ws/whoami', { headers: { Authorization: AUTH.forbiddenToken } }, app],
      [403, '/ws/echo', { headers: { Origin: 'https://evil.example' } }, app],
      [404, '/ws/nowhere', {}, app],
      [409, '/ws/keyed-refuse?user=K', {}, app],
      [429, '/ws/echo', {}, capped],
      [503, '/ws/echo', {}, full],
    ];
    // 20 of each (not 10,000: the same path each time, for the 5 s budget).
    for (const [status, path, options, target] of cases) {
      for (let i = 0; i < 20; i++) {
        // rawUpgrade waits for the server to end the connection: a refusal left open fails here.
        const answer = await rawUpgrade(target.url(path), options);
        expect(answer.status, `${path} → ${status}`).toBe(status);
        expect(answer.raw.toString('latin1')).not.toMatch(/^HTTP\/1\.1 101/m);
      }
    }
    for (const target of [app, capped, full]) {
      expect(target.hub.stats()).toMatchObject({ created: 1, active: 1, pending: 0 });
      // Only the one held client is still connected: every refused socket was closed.
      await expect.poll(() => connectionsOf(target.server)).toBe(1);
    }
    await Promise.all([holder.close(), heldPerIp.close(), heldTotal.close()]);
  });

  it('OP-08 slow or incomplete handshakes are dropped at the handshake deadline', async () => {
    const handshakeMs = 200;
    const app = await start({ timeouts: { handshake: handshakeMs } });
    const { port } = app.server.address() as AddressInfo;
    const half = Buffer.from('GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n');
    // 100 clients (not 1,000): half send half an upgrade request, half send nothing at all.
    const clients = Array.from({ length: 100 }, (_, i) => {
      const socket = connectTcp(port, '127.0.0.1');
      socket.on('error', () => {});
      if (i % 2 === 0) socket.write(half);
      let answer = '';
      socket.on('data', (chunk: Buffer) => {
        answer += chunk.toString('latin1');
      });
      const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(answer)));
      return { socket, closed };
    });
    try {
      const answers = await withTimeout(
        Promise.all(clients.map((c) => c.closed)),
        handshakeMs + 1500,
        'every slow client dropped',
      );
      for (const answer of answers)
        expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
      expect(app.hub.stats()).toMatchObject({ created: 0, pending: 0 });
    } finally {
      for (const { socket } of clients) socket.destroy();
    }
  });
});
