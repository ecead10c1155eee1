import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, expectRefusal, withTimeout } from '@wslane/core/testing';
import { afterEach, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = join(root, 'node_modules/.bin/tsx');
const server = join(root, 'examples/koa/server.ts');
const running: ChildProcess[] = [];

afterEach(async () => {
  for (const child of running.splice(0)) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await withTimeout(once(child, 'exit'), 3000, 'example exit');
    }
  }
});

async function output(stream: NodeJS.ReadableStream, until: RegExp): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += String(chunk);
    if (until.test(text)) break;
  }
  return text;
}

describe('examples/koa', () => {
  it('echoes on /ws/echo and guards /ws/chat with Koa middleware', async () => {
    const child = spawn(tsx, ['--conditions=@wslane/source', server], {
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.push(child);
    const banner = await withTimeout(
      output(child.stdout as NodeJS.ReadableStream, /:(\d+) /),
      15_000,
      'banner',
    );
    const base = `ws://127.0.0.1:${/:(\d+) /.exec(banner)?.[1]}`;
    const echo = await connect(`${base}/ws/echo`);
    echo.ws.send('ping');
    expect(await echo.next()).toBe('ping');
    expect((await expectRefusal(`${base}/ws/chat`)).status).toBe(401);
    const chat = await connect(`${base}/ws/chat?token=demo&name=ada`);
    chat.ws.send(JSON.stringify({ text: 'hello' }));
    expect(await chat.nextJson()).toEqual({ user: 'ada', text: 'hello' });
    await Promise.all([echo.close(), chat.close()]);
  }, 10_000);
});
