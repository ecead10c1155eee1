import { connect, expectRefusal } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { connectEcho, useExample } from './run-example.js';

describe('examples/express', () => {
  const example = useExample('express');

  it('echoes, and lets only a user with the token into the chat room', async () => {
    const started = await example.start();
    const echo = await connectEcho(started);
    expect((await expectRefusal(started.url('/ws/chat'))).status).toBe(401);
    const chat = await connect(started.url('/ws/chat?token=let-me-in&name=ada'));
    chat.ws.send(JSON.stringify({ text: 'hello' }));
    expect(await chat.nextJson()).toEqual({ from: 'ada', text: 'hello' });
    await Promise.all([echo.close(), chat.close()]);
  }, 10_000);
});
