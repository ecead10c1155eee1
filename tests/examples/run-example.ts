import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type TestClient, withTimeout } from '@wslane/core/testing';
import { afterEach, expect } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = join(root, 'node_modules/.bin/tsx');
/** What every example prints once it listens: `…http://127.0.0.1:<port> …`. */
const banner = /:(\d+) /;

/** One run of `examples/<name>/server.ts`, from its sources. */
export interface ExampleProcess {
  readonly child: ChildProcess;
  /** Resolves with the exit code once the process has exited and closed stdout and stderr. */
  readonly exited: Promise<number | null>;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
}

/** An example that printed its banner: the port it listens on. */
export interface StartedExample extends ExampleProcess {
  readonly port: number;
  /** `ws://127.0.0.1:<port><path>` */
  url(path: string): string;
}

export interface Examples {
  /** Runs the example with `env` on top of this process's environment. */
  spawn(env?: Record<string, string>): ExampleProcess;
  /** Runs the example on a free port (PORT=0) and waits for its banner. */
  start(env?: Record<string, string>): Promise<StartedExample>;
}

/**
 * Runs `examples/<name>/server.ts` for the tests of one file; after each test, SIGTERMs every
 * run still alive and waits for it to exit.
 */
export function useExample(name: string): Examples {
  const server = join(root, 'examples', name, 'server.ts');
  const running: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of running.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await withTimeout(once(child, 'exit'), 3000, `examples/${name} exit`);
      }
    }
  });

  const run = (env: Record<string, string> = {}): ExampleProcess => {
    const child = spawn(tsx, ['--conditions=@wslane/source', server], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.push(child);
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    return { child, exited, stderr: () => stderr };
  };

  return {
    spawn: run,
    async start(env = {}) {
      const example = run({ ...env, PORT: '0' });
      const text = await withTimeout(
        readUntil(example.child.stdout as NodeJS.ReadableStream, banner),
        15_000,
        `examples/${name} banner`,
      );
      const port = banner.exec(text)?.[1];
      if (port === undefined) {
        throw new Error(`examples/${name} printed no banner: ${text}${example.stderr()}`);
      }
      return { ...example, port: Number(port), url: (path) => `ws://127.0.0.1:${port}${path}` };
    },
  };
}

/** Connects to the example's /ws/echo and checks one round trip: the client, still open. */
export async function connectEcho(example: StartedExample): Promise<TestClient> {
  const echo = await connect(example.url('/ws/echo'));
  echo.ws.send('ping');
  expect(await echo.next()).toBe('ping');
  return echo;
}

/** What `stream` yields until `until` matches it (or the stream ends). */
async function readUntil(stream: NodeJS.ReadableStream, until: RegExp): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += String(chunk);
    if (until.test(text)) break;
  }
  return text;
}
