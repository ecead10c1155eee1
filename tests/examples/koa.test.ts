import { connect, expectRefusal } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { connectEcho, useExample } from './run-example.js';

describe('examples/koa', () => {
  const example = useExample('koa');

  it('echoes on /ws/echo and guards /ws/chat with Koa middleware', async () => {
    const started = await example.start();
    const echo = await connectEcho(started);
    expect((await expectRefusal(started.url('/ws/chat'))).status).toBe(401);
    const chat = await connect(started.url('/ws/chat?token=demo&name=ada'));
    chat.ws.send(JSON.stringify({ text: 'hello' }));
    expect(await chat.nextJson()).toEqual({ user: 'ada', text: 'hello' });
    await Promise.all([echo.close(), chat.close()]);
  }, 10_000);
});
