import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, withTimeout } from '@wslane/core/testing';
import { afterEach, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = join(root, 'node_modules/.bin/tsx');
const server = join(root, 'examples/node-http/server.ts');
const running: ChildProcess[] = [];

afterEach(async () => {
  for (const child of running.splice(0)) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await withTimeout(once(child, 'exit'), 3000, 'example exit');
    }
  }
});

function start(env: Record<string, string>): ChildProcess {
  const child = spawn(tsx, ['--conditions=@wslane/source', server], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  return child;
}

async function output(stream: NodeJS.ReadableStream, until: RegExp): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += String(chunk);
    if (until.test(text)) break;
  }
  return text;
}

describe('examples/node-http', () => {
  it('serves echo and chat with its shipped JSON config', async () => {
    const child = start({ PORT: '0' });
    const banner = await withTimeout(
      output(child.stdout as NodeJS.ReadableStream, /:(\d+) /),
      15_000,
      'banner',
    );
    const port = /:(\d+) /.exec(banner)?.[1];
    const echo = await connect(`ws://127.0.0.1:${port}/ws/echo`);
    echo.ws.send('ping');
    expect(await echo.next()).toBe('ping');
    const chat = await connect(`ws://127.0.0.1:${port}/ws/chat`);
    chat.ws.send(JSON.stringify({ text: 'hello' }));
    expect(await chat.nextJson()).toMatchObject({ text: 'hello' });
    await Promise.all([echo.close(), chat.close()]);
  }, 10_000);

  it('exits non-zero listing every bad field of an invalid config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wslane-config-'));
    const path = join(dir, 'bad.json');
    await writeFile(
      path,
      JSON.stringify({ timeouts: { idle: 'soon' }, limits: { maxPayload: 'huge' } }),
    );
    const child = start({ PORT: '0', WSLANE_CONFIG: path });
    const stderr = output(child.stderr as NodeJS.ReadableStream, /$^/);
    const [code] = await withTimeout(once(child, 'exit'), 15_000, 'exit');
    const text = await stderr;
    await rm(dir, { recursive: true });
    expect(code).toBe(1);
    expect(text).toContain('timeouts.idle');
    expect(text).toContain('limits.maxPayload');
  }, 10_000);
});
