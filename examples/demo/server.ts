import { type ConfigError, isWslaneError, loadConfig } from '@wslane/core';
import { parseDemoEnv } from './src/demo-env.js';
import { startDemo } from './src/start-demo.js';

// The demo server: `npm start` at the repo root. PORT, HOST, ADAPTER and WSLANE_CONFIG pick where
// it listens, which framework serves it and which config file (checked by the core's schema).
const env = parseDemoEnv(process.env);
if (!env.ok) exitWith(['invalid environment:', ...env.problems.map((problem) => `  ${problem}`)]);
const { adapter, port, host, configPath } = env.value;

const config = await loadConfig(configPath).catch((error: unknown) =>
  exitWith([`invalid config ${configPath}:`, ...describeConfigError(error)]),
);
const demo = await startDemo({ adapter, port, host, config }).catch((error: unknown) =>
  exitWith([`cannot start the demo on ${host}:${port}: ${String(error)}`]),
);
process.stdout.write(
  `wslane demo on ${demo.url} (${adapter}; ws: /ws/echo, /ws/chat?room=&name=, /ws/lines)\n`,
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void demo.close().then(() => process.exit(0));
  });
}

/** Every problem by path, one per line: `timeouts.idle: expected a duration…`. */
function describeConfigError(error: unknown): string[] {
  if (isWslaneError(error) && error.code === 'WSLANE_CONFIG_INVALID') {
    return (error as ConfigError).issues.map(
      (issue) => `  ${issue.path === '' ? '(file)' : issue.path}: ${issue.message}`,
    );
  }
  return [`  ${String(error)}`];
}

function exitWith(lines: readonly string[]): never {
  process.stderr.write(`${lines.join('\n')}\n`);
  process.exit(1);
}
