import { afterEach, describe, expect, it } from 'vitest';
import { useConformanceApps } from '../integration/conformance-apps.js';
import { harnesses } from '../integration/harnesses.js';
import { startOtherWsServer } from '../integration/helpers.js';
import { type FaultServer, faultApps } from './helpers/fault-apps.js';
import { encodeFrame } from './helpers/frame-encoder.js';
import { rawUpgrade } from './helpers/raw-upgrade.js';
import { SILENT, WireClient } from './helpers/wire-client.js';
import { OP } from './helpers/wire-frames.js';

describe.each(faultApps)('AD on $name', (faultApp) => {
  const running: FaultServer[] = [];
  afterEach(async () => {
    for (const app of running.splice(0)) {
      await app.close();
      expect(app.hub.stats()).toMatchObject({ active: 0, pending: 0, timers: 0 });
    }
  });
  const start = async (): Promise<FaultServer> => {
    const app = await faultApp.start();
    running.push(app);
    return app;
  };

  it.each([
    ['/ws/reject', 500],
    ['/ws/throw', 500],
    ['/ws/helper', 403],
  ] as const)(
    'AD-01 a middleware error on the upgrade path is a real HTTP response: %s → %i',
    async (path, status) => {
      const app = await start();
      // Answered, then ended (rawUpgrade waits for the server to end the connection): no 101,
      // nothing left waiting for a close timeout.
      const refusal = await rawUpgrade(app.test.url(path));
      expect(refusal.status).toBe(status);
      expect(refusal.raw.toString('latin1')).not.toContain('101 Switching');
      expect(app.hub.stats()).toMatchObject({ created: 0, pending: 0 });
      // The next upgrade is served as usual.
      const client = await app.test.connect('/ws/echo');
      client.ws.send('next');
      expect(await client.next()).toBe('next');
      await client.close();
    },
  );

  it('AD-02 frames sent with the upgrade request survive slow auth middleware, in order (OP-02)', async () => {
    const app = await start();
    const client = await WireClient.open(app.test.url('/ws/slow-auth'), {
      ...SILENT,
      extra: Buffer.concat([
        encodeFrame({ opcode: OP.text, payload: 'first' }),
        encodeFrame({ opcode: OP.text, payload: 'second' }),
      ]),
    });
    expect((await client.response()).status).toBe(101);
    await client.waitForCount(() => true, 2);
    expect(client.frames.slice(0, 2).map((f) => [f.opcode, f.payload.toString()])).toEqual([
      [0x1, 'first'],
      [0x1, 'second'],
    ]);
    client.destroy();
  });

  it('AD-02 frames sent with a refused upgrade are discarded and the refusal is written (OP-02)', async () => {
    const app = await start();
    const refusal = await rawUpgrade(app.test.url('/ws/slow-deny'), {
      extra: encodeFrame({ opcode: OP.text, payload: 'early' }),
    });
    expect(refusal.status).toBe(401);
    expect(refusal.raw.toString('latin1')).toMatch(/www-authenticate: bearer/i);
    expect(app.hub.stats()).toMatchObject({ created: 0, pending: 0 });
  });
});

describe.each(harnesses)('AD on $name', (harness) => {
  const start = useConformanceApps(harness);

  it('AD-02 messages sent while onOpen runs all arrive after it, in order (OP-01)', async () => {
    const app = await start();
    const client = await app.connect('/ws/slow-open');
    const sent = Array.from({ length: 10 }, (_, i) => `early ${i}`);
    for (const message of sent) client.ws.send(message);
    // onOpen's own send comes first, then the echoes of everything sent meanwhile.
    expect(await client.next()).toBe('ready');
    expect(await client.take(sent.length)).toEqual(sent);
    await client.close();
  });

  it('AD-03 another upgrade listener on the same server keeps its upgrades, untouched', async () => {
    // wslane has no `unmatched: 'ignore'` switch: upgrades it has no route for are left to the
    // server's other 'upgrade' listeners by default.
    const app = await start();
    const other = await startOtherWsServer(app, '/hmr');
    try {
      const ours = await app.connect('/ws/echo');
      await other.expectSideBySide(ours);
      expect(app.hub.stats()).toMatchObject({ active: 1, created: 1 });
      await ours.close();
    } finally {
      await other.close();
    }
  });

  it('AD-04 HTTP server timeouts never close an upgraded connection; only wslane policies do', async () => {
    // Node's defaults (requestTimeout 5 min, headersTimeout 1 min) scaled down a thousandfold,
    // so twenty heartbeats (over a second, silent otherwise) outlast every one of them.
    const app = await start(
      { timeouts: { heartbeat: { interval: 50, timeout: 200 }, idle: false } },
      {
        headersTimeout: 100,
        requestTimeout: 200,
        keepAliveTimeout: 50,
        connectionsCheckingInterval: 20,
      },
    );
    const client = await app.connect('/ws/echo');
    let pings = 0;
    await new Promise<void>((resolve) => {
      client.ws.on('ping', () => {
        pings++;
        if (pings === 20) resolve();
      });
    });
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    client.ws.send('still open');
    expect(await client.next()).toBe('still open');
    await client.close();
  });
});
