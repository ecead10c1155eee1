import { createServer } from 'node:http';
import { createHub, createRoute, isWslaneError, json, loadConfig } from '@wslane/core';
import { z } from 'zod';

// A wslane hub on a plain node:http server: an echo route and a broadcast chat room, configured
// by a JSON file validated by the core's schema (WSLANE_CONFIG=path to use another one).
const configPath =
  process.env.WSLANE_CONFIG ?? new URL('./wslane.config.json', import.meta.url).pathname;
const hub = createHub(await loadConfigOrExit(configPath));

const echo = createRoute({
  name: 'echo',
  onMessage: (message, channel) => channel.send(message),
});

const Say = z.object({ text: z.string().min(1).max(2000) });
const chat = createRoute({
  name: 'chat',
  codec: json(Say),
  onOpen: (channel) => channel.join('lobby'),
  onMessage: (message) => {
    hub.channels.room('lobby').broadcast({ text: message.text, at: Date.now() });
  },
});

const page = `<!doctype html><meta charset="utf-8"><title>wslane</title>
<h1>wslane on node:http</h1><ul id="log"></ul>
<form id="f"><input id="t" autocomplete="off" placeholder="say something"><button>send</button></form>
<script>
const ws = new WebSocket(\`ws://\${location.host}/ws/chat\`);
ws.onmessage = (e) => { const li = document.createElement('li'); li.textContent = JSON.parse(e.data).text; log.append(li); };
f.onsubmit = (e) => { e.preventDefault(); ws.send(JSON.stringify({ text: t.value })); t.value = ''; };
</script>`;

const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(hub.stats()));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
});
hub.attach(server, { '/ws/echo': echo, '/ws/chat': chat });

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
server.listen(port, host, () => {
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  process.stdout.write(`wslane demo on http://${host}:${bound} (ws: /ws/echo, /ws/chat)\n`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void hub.close().then(() => server.close());
  });
}

async function loadConfigOrExit(path: string) {
  try {
    return await loadConfig(path);
  } catch (error) {
    // Every problem, by path: `timeouts.idle: expected a duration like "30s", got "soon"`.
    process.stderr.write(`${isWslaneError(error) ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
