import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, withTimeout } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { connectEcho, useExample } from './run-example.js';

describe('examples/node-http', () => {
  const example = useExample('node-http');

  it('serves echo and chat with its shipped JSON config', async () => {
    const started = await example.start();
    const echo = await connectEcho(started);
    const chat = await connect(started.url('/ws/chat'));
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
    const run = example.spawn({ PORT: '0', WSLANE_CONFIG: path });
    const code = await withTimeout(run.exited, 15_000, 'exit');
    await rm(dir, { recursive: true });
    expect(code).toBe(1);
    expect(run.stderr()).toContain('timeouts.idle');
    expect(run.stderr()).toContain('limits.maxPayload');
  }, 10_000);
});
