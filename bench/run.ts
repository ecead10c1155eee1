import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine } from './harness/machine.js';
import { parseBenchOptions } from './harness/options.js';
import { runScenarios } from './harness/runner.js';
import { renderBarChart } from './report/chart.js';
import { checkTargets } from './report/checks.js';
import { renderReport, toChartPanels } from './report/document.js';
import { summarize } from './report/summary.js';
import { ALL_SCENARIOS } from './scenarios/all-scenarios.js';

// `npm run bench [-- --quick] [--scenario echo] [--target ws,wslane-koa] [--runs n] [--publish]`

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
/** File descriptors the largest scenario needs in one process (5,000 sockets and some spare). */
const NEEDED_OPEN_FILES = 6_000;
const PUBLISH_START = '<!-- bench:results:start -->';
const PUBLISH_END = '<!-- bench:results:end -->';

const options = parseBenchOptions(process.argv.slice(2), join(BENCH_DIR, 'results'));
const machine = describeMachine();
if (machine.openFilesLimit !== undefined && machine.openFilesLimit < NEEDED_OPEN_FILES) {
  throw new Error(
    `ulimit -n is ${machine.openFilesLimit}; the bench needs ${NEEDED_OPEN_FILES}: run \`ulimit -n ${NEEDED_OPEN_FILES * 2}\` first`,
  );
}
const scenarios = ALL_SCENARIOS.filter(
  (scenario) => options.scenarios.length === 0 || options.scenarios.includes(scenario.name),
);
const command = [
  'npm run bench',
  ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : []),
].join(' ');
const startedAt = new Date();
const loadAtStart = loadavg()[0] ?? 0;
process.stderr.write(
  `${command}: ${scenarios.map((s) => s.name).join(', ')}, ${options.profile.runs} run(s)\n`,
);

const output = await runScenarios(scenarios, options.targets, options.profile, (line) =>
  process.stderr.write(`${line}\n`),
);
const rows = summarize(output.records, scenarios);
const checks = checkTargets(rows);
const chart = renderBarChart(
  'Server CPU per unit of work (µs, lower is better)',
  toChartPanels(scenarios, rows),
);
const durationSeconds = (Date.now() - startedAt.getTime()) / 1000;
const load: [number, number] = [loadAtStart, loadavg()[0] ?? 0];
const report = (chartPath: string): string =>
  renderReport({
    command,
    startedAt: startedAt.toISOString(),
    durationSeconds,
    runs: options.profile.runs,
    machine,
    scenarios,
    rows,
    checks,
    failures: output.failures,
    chartPath,
    load,
  });

await mkdir(options.outDir, { recursive: true });
const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
const results = {
  command,
  startedAt: startedAt.toISOString(),
  durationSeconds,
  load,
  machine,
  options,
  records: output.records,
  failures: output.failures,
  summary: rows,
  checks,
};
const json = `${JSON.stringify(results, null, 2)}\n`;
await writeFile(join(options.outDir, 'results.json'), json);
await writeFile(join(options.outDir, `results-${stamp}.json`), json);
await writeFile(join(options.outDir, 'chart.svg'), chart);
await writeFile(join(options.outDir, 'report.md'), report('chart.svg'));
process.stdout.write(`\n${report(join(relative(process.cwd(), options.outDir), 'chart.svg'))}`);

if (options.publish) {
  await writeFile(join(ROOT, 'docs', 'bench-cpu.svg'), chart);
  await publishSection(join(ROOT, 'BENCHMARKS.md'), report('docs/bench-cpu.svg'));
  process.stderr.write('wrote BENCHMARKS.md (generated section) and docs/bench-cpu.svg\n');
}
process.stderr.write(
  `raw results: ${relative(process.cwd(), join(options.outDir, 'results.json'))}\n`,
);
process.exitCode = output.failures.length > 0 ? 1 : 0;

/** Replaces the generated part of BENCHMARKS.md (between the markers), keeping the prose around it. */
async function publishSection(path: string, section: string): Promise<void> {
  let document = `# Benchmarks\n\n${PUBLISH_START}\n${PUBLISH_END}\n`;
  try {
    document = await readFile(path, 'utf8');
  } catch {
    // First publish: start from the skeleton.
  }
  const start = document.indexOf(PUBLISH_START);
  const end = document.indexOf(PUBLISH_END);
  if (start < 0 || end < start)
    throw new Error(`${path} lacks the ${PUBLISH_START} … ${PUBLISH_END} markers`);
  const updated = `${document.slice(0, start + PUBLISH_START.length)}\n${section}${document.slice(end)}`;
  await writeFile(path, updated);
}
