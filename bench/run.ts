import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchRun, readBenchRun } from './harness/bench-run.js';
import { describeMachine } from './harness/machine.js';
import { type BenchOptions, parseBenchOptions } from './harness/options.js';
import { runScenarios } from './harness/runner.js';
import { renderBarChart } from './report/chart.js';
import { checkTargets } from './report/checks.js';
import { renderReport, toChartPanels } from './report/document.js';
import { publishSection } from './report/publish.js';
import { summarize } from './report/summary.js';
import { ALL_SCENARIOS } from './scenarios/all-scenarios.js';

// `npm run bench [-- --quick] [--scenario echo] [--target ws,wslane-koa] [--runs n] [--publish]`
// `npm run bench -- --from bench/results/results.json --publish` reports a saved run again.

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH_DIR);
/** File descriptors the largest scenario needs in one process (5,000 sockets and some spare). */
const NEEDED_OPEN_FILES = 6_000;

const options = parseBenchOptions(process.argv.slice(2), join(BENCH_DIR, 'results'));
const run = options.from === undefined ? await measure(options) : await readBenchRun(options.from);
const scenarios = ALL_SCENARIOS.filter((scenario) => run.scenarios.includes(scenario.name));
const rows = summarize(run.records, scenarios);
const checks = checkTargets(rows);
const chart = renderBarChart(
  'Server CPU per unit of work (µs, lower is better)',
  toChartPanels(scenarios, rows),
);
const report = (chartPath: string): string =>
  renderReport({ ...run, scenarios, rows, checks, chartPath });

await mkdir(options.outDir, { recursive: true });
if (options.from === undefined) {
  const json = `${JSON.stringify({ ...run, summary: rows, checks }, null, 2)}\n`;
  const stamp = run.startedAt.replace(/[:.]/g, '-');
  await writeFile(join(options.outDir, 'results.json'), json);
  await writeFile(join(options.outDir, `results-${stamp}.json`), json);
}
await writeFile(join(options.outDir, 'chart.svg'), chart);
await writeFile(join(options.outDir, 'report.md'), report('chart.svg'));
process.stdout.write(`\n${report(join(relative(process.cwd(), options.outDir), 'chart.svg'))}`);
if (options.publish) {
  await writeFile(join(ROOT, 'docs', 'bench-cpu.svg'), chart);
  await publishSection(join(ROOT, 'BENCHMARKS.md'), report('docs/bench-cpu.svg'));
  process.stderr.write('wrote BENCHMARKS.md (generated section) and docs/bench-cpu.svg\n');
}
process.stderr.write(`results: ${relative(process.cwd(), options.outDir)}\n`);
process.exitCode = run.failures.length > 0 ? 1 : 0;

/** Runs the scenarios the options ask for, every target in its own processes. */
async function measure(options: BenchOptions): Promise<BenchRun> {
  const machine = describeMachine();
  if (machine.openFilesLimit !== undefined && machine.openFilesLimit < NEEDED_OPEN_FILES) {
    throw new Error(
      `ulimit -n is ${machine.openFilesLimit}; the bench needs ${NEEDED_OPEN_FILES}: run \`ulimit -n ${NEEDED_OPEN_FILES * 2}\` first`,
    );
  }
  const selected = ALL_SCENARIOS.filter(
    (scenario) => options.scenarios.length === 0 || options.scenarios.includes(scenario.name),
  );
  const args = process.argv.slice(2);
  const command = ['npm run bench', ...(args.length > 0 ? ['--', ...args] : [])].join(' ');
  const startedAt = new Date();
  const loadAtStart = loadavg()[0] ?? 0;
  process.stderr.write(
    `${command}: ${selected.map((s) => s.name).join(', ')}, ${options.profile.runs} run(s)\n`,
  );
  const output = await runScenarios(selected, options.targets, options.profile, (line) =>
    process.stderr.write(`${line}\n`),
  );
  return {
    command,
    startedAt: startedAt.toISOString(),
    durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
    load: [loadAtStart, loadavg()[0] ?? 0],
    machine,
    runs: options.profile.runs,
    scenarios: selected.map((scenario) => scenario.name),
    records: output.records,
    failures: output.failures,
  };
}
