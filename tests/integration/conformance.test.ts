import { afterEach, describe, expect, it } from 'vitest';
import { AUTH } from './conformance-routes.js';
import type { ConformanceServer } from './harness/harness.js';
import { harnesses } from './harnesses.js';

describe.each(harnesses)('conformance: $name', (harness) => {
  const running: ConformanceServer[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((app) => app.close()));
  });
  async function start(...args: Parameters<typeof harness.start>): Promise<ConformanceServer> {
    const app = await harness.start(...args);
    running.push(app);
    return app;
  }

  it('echoes text and binary with the raw codec', async () => {
    const app = await start();
    const client = await app.connect('/ws/echo');
    client.ws.send('hello');
    client.ws.send(Buffer.from([1, 2]));
    expect(await client.next()).toBe('hello');
    expect(await client.next()).toEqual(Buffer.from([1, 2]));
    await client.close();
  });

  it('refuses an upgrade without credentials with the middleware 401 and its headers', async () => {
    const app = await start();
    const refusal = await app.expectRefusal('/ws/whoami');
    expect(refusal.status).toBe(401);
    expect(refusal.headers['www-authenticate']).toBe('Bearer');
    expect(app.hub.stats()).toMatchObject({ created: 0, pending: 0 });
  });

  it('refuses a forbidden token with 403', async () => {
    const app = await start();
    const refusal = await app.expectRefusal('/ws/whoami', {
      headers: { authorization: AUTH.forbiddenToken },
    });
    expect(refusal.status).toBe(403);
  });

  it('hands middleware data to the channel context and middleware headers to the 101', async () => {
    const app = await start();
    const client = await app.connect('/ws/whoami?x=1', {
      headers: { authorization: AUTH.goodToken },
    });
    expect(client.upgradeHeaders['set-cookie']).toEqual([AUTH.cookie]);
    expect(await client.nextJson()).toEqual({ user: AUTH.user, params: {}, query: { x: '1' } });
    await client.close();
  });

  it('answers an unknown upgrade path with 404 when it is the only upgrade listener', async () => {
    const app = await start();
    expect((await app.expectRefusal('/ws/nowhere')).status).toBe(404);
  });
});
