import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, expectRefusal, type TestClient, withTimeout } from '@wslane/core/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type AdapterName,
  type RunningDemo,
  startDemo,
} from '../../examples/demo/src/start-demo.js';

const ADAPTERS: readonly AdapterName[] = ['express', 'koa', 'hono'];
const root = fileURLToPath(new URL('../..', import.meta.url));

type ChatReply =
  | { type: 'said'; room: string; from: string; text: string; at: number }
  | { type: 'presence'; room: string; members: string[] }
  | { type: 'error'; code: string; message: string };

describe.each(ADAPTERS)('examples/demo on %s', (adapter) => {
  let demo: RunningDemo;
  const clients: TestClient[] = [];

  beforeEach(async () => {
    demo = await startDemo({ adapter });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await demo.close();
  });

  const ws = (path: string): string => `${demo.url.replace(/^http/, 'ws')}${path}`;
  async function open(path: string): Promise<TestClient> {
    const client = await connect(ws(path));
    clients.push(client);
    return client;
  }
  async function joinChat(name: string, room = 'lobby'): Promise<TestClient> {
    const client = await open(`/ws/chat?room=${encodeURIComponent(room)}&name=${name}`);
    expect(await nextReply(client)).toMatchObject({ type: 'presence', room });
    return client;
  }

  it('serves the chat page, its script and its style', async () => {
    const page = await fetch(`${demo.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('src="/app.js"');
    expect(html).toContain('href="/style.css"');
    const script = await fetch(`${demo.url}/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).toContain('/ws/chat');
    const style = await fetch(`${demo.url}/style.css`);
    expect(style.status).toBe(200);
    expect(style.headers.get('content-type')).toMatch(/^text\/css/);
  });

  it('answers /healthz with the hub stats as JSON', async () => {
    await joinChat('ada', 'healthz-room');
    const response = await fetch(`${demo.url}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({
      state: 'open',
      active: 1,
      created: 1,
      rooms: { 'healthz-room': 1 },
    });
  });

  it('answers /metrics in the Prometheus text format with the same figures', async () => {
    const ada = await joinChat('ada', 'metrics "room"');
    ada.ws.send(JSON.stringify({ type: 'say', text: 'counted' }));
    await nextReply(ada);
    const response = await fetch(`${demo.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const metrics = parsePrometheus(await response.text());
    const stats = demo.hub.stats();
    expect(metrics.types).toMatchObject({
      wslane_channels_active: 'gauge',
      wslane_channels_created_total: 'counter',
      wslane_messages_in_total: 'counter',
      wslane_bytes_out_total: 'counter',
      wslane_dropped_total: 'counter',
      wslane_room_members: 'gauge',
    });
    expect(metrics.samples).toMatchObject({
      wslane_channels_active: 1,
      wslane_channels_created_total: stats.created,
      wslane_messages_in_total: 1,
      wslane_bytes_out_total: stats.bytesOut,
      wslane_dropped_total: 0,
      'wslane_room_members{room="metrics \\"room\\""}': 1,
    });
  });

  it('echoes text and binary messages unchanged, same type, in order', async () => {
    const echo = await open('/ws/echo');
    echo.ws.send('one');
    echo.ws.send(Buffer.from([0, 1, 2, 255]));
    echo.ws.send('three');
    const [first, second, third] = await echo.take(3);
    expect(first).toBe('one');
    expect(Buffer.isBuffer(second) && [...second]).toEqual([0, 1, 2, 255]);
    expect(third).toBe('three');
  });

  it('sends what a member says to everyone in the room, the sender included', async () => {
    const ada = await joinChat('ada');
    const bob = await joinChat('bob');
    expect(await nextReply(ada)).toEqual({
      type: 'presence',
      room: 'lobby',
      members: ['ada', 'bob'],
    });
    bob.ws.send(JSON.stringify({ type: 'say', text: 'hi ada' }));
    for (const client of [ada, bob]) {
      const said = await nextReply(client);
      expect(said).toMatchObject({ type: 'said', room: 'lobby', from: 'bob', text: 'hi ada' });
      expect(said.type === 'said' && Math.abs(said.at - Date.now())).toBeLessThan(5000);
    }
  });

  it('answers a message that fails the schema with bad_message and stays open', async () => {
    const ada = await joinChat('ada');
    ada.ws.send(JSON.stringify({ type: 'say', text: 'x'.repeat(2001) }));
    expect(await nextReply(ada)).toMatchObject({ type: 'error', code: 'bad_message' });
    ada.ws.send('{not json');
    expect(await nextReply(ada)).toMatchObject({ type: 'error', code: 'bad_message' });
    ada.ws.send(JSON.stringify({ type: 'say', text: 'x'.repeat(2000) }));
    expect(await nextReply(ada)).toMatchObject({ type: 'said', from: 'ada' });
  });

  it('tells the room who is there on every join, move and leave', async () => {
    const ada = await joinChat('ada');
    const bob = await joinChat('bob');
    expect(await nextReply(ada)).toMatchObject({ members: ['ada', 'bob'] });
    bob.ws.send(JSON.stringify({ type: 'join', room: 'kitchen' }));
    expect(await nextReply(ada)).toEqual({ type: 'presence', room: 'lobby', members: ['ada'] });
    expect(await nextReply(bob)).toEqual({ type: 'presence', room: 'kitchen', members: ['bob'] });
    const cy = await joinChat('cy', 'kitchen');
    expect(await nextReply(bob)).toEqual({
      type: 'presence',
      room: 'kitchen',
      members: ['bob', 'cy'],
    });
    await cy.close();
    expect(await nextReply(bob)).toEqual({ type: 'presence', room: 'kitchen', members: ['bob'] });
    expect(ada.buffered).toBe(0);
  });

  it('replaces an older connection of the same name, closing it with 4409', async () => {
    const first = await joinChat('ada');
    const second = await joinChat('ada');
    expect((await first.waitClosed()).code).toBe(4409);
    second.ws.send(JSON.stringify({ type: 'say', text: 'still here' }));
    // The old channel's leave may announce the room again before the message comes back.
    let reply = await nextReply(second);
    while (reply.type === 'presence') {
      expect(reply.members).toEqual(['ada']);
      reply = await nextReply(second);
    }
    expect(reply).toMatchObject({ type: 'said', text: 'still here' });
    await vi.waitFor(() => expect(demo.hub.stats().active).toBe(1));
  });

  it('refuses a bad chat query with HTTP 400 before the handshake', async () => {
    for (const query of [
      '?room=lobby',
      '?room=lobby&name=',
      `?room=lobby&name=${'n'.repeat(33)}`,
      '?room=%07bell&name=ada',
      '?room=lobby&name=a%0Ab',
    ]) {
      expect((await expectRefusal(ws(`/ws/chat${query}`))).status, query).toBe(400);
    }
    expect(demo.hub.stats().created).toBe(0);
  });

  it('echoes every complete line, split across frames or several in one frame', async () => {
    const lines = await open('/ws/lines');
    for (const frame of ['hel', 'lo\r\nwor', 'ld\r', '\nx\r\ny\r\n']) lines.ws.send(frame);
    expect(await lines.take(4)).toEqual(['hello\r\n', 'world\r\n', 'x\r\n', 'y\r\n']);
    const longest = 'l'.repeat(64 * 1024);
    lines.ws.send(`${longest}\r\n`);
    expect(await lines.next()).toBe(`${longest}\r\n`);
  });

  it('closes /ws/lines with 1009 on a record over 64 KiB', async () => {
    const lines = await open('/ws/lines');
    lines.ws.send('l'.repeat(40 * 1024));
    lines.ws.send('l'.repeat(24 * 1024 + 1));
    expect((await lines.waitClosed()).code).toBe(1009);
  });

  it('starts from server.ts with the adapter from ADAPTER and prints its URL', async () => {
    const run = runServer({ ADAPTER: adapter, PORT: '0' });
    const banner = await withTimeout(
      run.stdoutUntil(/http:\/\/127\.0\.0\.1:(\d+) /),
      15_000,
      'banner',
    );
    expect(banner).toContain(`(${adapter};`);
    const port = /:(\d+) /.exec(banner)?.[1];
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(200);
    run.child.kill('SIGTERM');
    expect(await withTimeout(run.exited, 5000, 'exit')).toBe(0);
  }, 20_000);

  it('exits non-zero listing every bad field of an invalid config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wslane-demo-config-'));
    const path = join(dir, 'bad.json');
    await writeFile(
      path,
      JSON.stringify({ timeouts: { idle: 'soon' }, limits: { maxPayload: 'huge' }, extra: 1 }),
    );
    const run = runServer({ ADAPTER: adapter, PORT: '0', WSLANE_CONFIG: path });
    const code = await withTimeout(run.exited, 15_000, 'exit');
    await rm(dir, { recursive: true });
    expect(code).toBe(1);
    expect(run.stderr()).toContain('timeouts.idle');
    expect(run.stderr()).toContain('limits.maxPayload');
    expect(run.stderr()).toMatch(/extra/);
  }, 20_000);
});

describe('examples/demo server.ts', () => {
  it('exits non-zero naming a bad ADAPTER and PORT', async () => {
    const run = runServer({ ADAPTER: 'fastify', PORT: 'eighty' });
    expect(await withTimeout(run.exited, 15_000, 'exit')).toBe(1);
    expect(run.stderr()).toContain('ADAPTER');
    expect(run.stderr()).toContain('PORT');
  }, 20_000);
});

const running = new Set<ChildProcess>();
afterEach(async () => {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await withTimeout(once(child, 'exit'), 5000, 'demo exit');
    }
  }
  running.clear();
});

/** `examples/demo/server.ts` in a child process, as `npm start` runs it. */
function runServer(env: Record<string, string>) {
  const child = spawn(
    join(root, 'node_modules/.bin/tsx'),
    ['--conditions=@wslane/source', join(root, 'examples/demo/server.ts')],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += String(chunk);
  });
  child.stderr.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  return {
    child,
    exited,
    stderr: () => stderr,
    /** Everything printed so far, once it matches `pattern`. */
    stdoutUntil: async (pattern: RegExp): Promise<string> => {
      while (!pattern.test(stdout)) {
        await Promise.race([once(child.stdout, 'data'), exited]);
        if (child.exitCode !== null) throw new Error(`demo exited: ${stderr}`);
      }
      return stdout;
    },
  };
}

async function nextReply(client: TestClient): Promise<ChatReply> {
  return client.nextJson<ChatReply>();
}

/** HELP/TYPE lines and samples of a Prometheus text exposition; throws on a malformed line. */
function parsePrometheus(text: string): {
  types: Record<string, string>;
  samples: Record<string, number>;
} {
  const types: Record<string, string> = {};
  const helps = new Set<string>();
  const samples: Record<string, number> = {};
  for (const line of text.trimEnd().split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-z_]+) (.+)$/.exec(line);
    if (meta !== null) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (kind === 'HELP') helps.add(name);
      else types[name] = rest;
      continue;
    }
    const sample = /^([a-z_]+)(\{[a-z_]+="(?:[^"\\]|\\.)*"\})? (\d+(?:\.\d+)?)$/.exec(line);
    if (sample === null) throw new Error(`not a Prometheus line: ${line}`);
    const [, name, labels = '', value] = sample as unknown as [string, string, string, string];
    if (!helps.has(name) || types[name] === undefined) throw new Error(`no HELP/TYPE for ${name}`);
    if (types[name] === 'counter' && !name.endsWith('_total'))
      throw new Error(`${name}: no _total`);
    samples[`${name}${labels}`] = Number(value);
  }
  return { types, samples };
}
