import { connect, expectRefusal } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { connectEcho, useExample } from './run-example.js';

describe('examples/hono', () => {
  const example = useExample('hono');

  it('echoes on /ws/echo and guards its rooms with bearerAuth', async () => {
    const started = await example.start({ TOKEN: 'letmein' });
    const echo = await connectEcho(started);
    expect((await expectRefusal(started.url('/ws/rooms/lobby'))).status).toBe(401);
    const member = await connect(started.url('/ws/rooms/lobby'), {
      headers: { authorization: 'Bearer letmein' },
    });
    member.ws.send('hi all');
    expect(await member.next()).toBe('hi all');
    await Promise.all([echo.close(), member.close()]);
  }, 10_000);
});
