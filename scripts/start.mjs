// `npm start` on a fresh clone: install once, then run the demo server.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!existsSync('node_modules/.package-lock.json')) {
  const install = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (install.status !== 0) process.exit(install.status ?? 1);
}
const demo = spawnSync('npm', ['start', '--workspace', '@wslane/demo'], {
  stdio: 'inherit',
});
process.exit(demo.status ?? 1);
