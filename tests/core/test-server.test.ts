import { createServer } from 'node:http';
import { listenForTest, withTimeout } from '@wslane/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';

const servers: WebSocketServer[] = [];
afterEach(() => {
  for (const wss of servers.splice(0)) wss.close();
});

describe('listenForTest', () => {
  it('closes the WebSockets it upgraded when it closes, not only its HTTP connections', async () => {
    const server = createServer();
    const wss = new WebSocketServer({ noServer: true });
    servers.push(wss);
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, () => {}));
    const running = await listenForTest(server);
    const client = await running.connect('/any');
    await withTimeout(running.close(), 2000, 'test server close');
    expect((await client.waitClosed()).code).toBe(1006);
    expect(server.listening).toBe(false);
  });
});
