import type { BenchRun } from '../harness/bench-run.js';
import { BASELINE_TARGET, targetInfo } from '../harness/target-list.js';
import type { Scenario } from '../scenarios/scenario.js';
import type { ChartPanel } from './chart.js';
import type { TargetCheck } from './checks.js';
import type { SummaryRow } from './summary.js';
import { renderScenarioTables, renderTable } from './tables.js';

/** Everything one report is made of: the run and what was made of it. */
export interface ReportInput extends Omit<BenchRun, 'scenarios' | 'records'> {
  readonly scenarios: readonly Scenario[];
  readonly rows: readonly SummaryRow[];
  readonly checks: readonly TargetCheck[];
  /** Where the chart is, relative to the document. */
  readonly chartPath: string;
}

/** The Markdown report: machine, command, one table per scenario variant, the targets, the chart. */
export function renderReport(input: ReportInput): string {
  const { machine } = input;
  const sections = [
    `Measured ${input.startedAt.slice(0, 10)} on ${machine.cpus} × ${machine.cpuModel}, ` +
      `${machine.memoryGiB} GiB, Node ${machine.node} (${machine.platform}), ` +
      `ws ${machine.wsBufferUtil ? 'with' : 'without'} its native bufferutil; ` +
      `\`${input.command}\`, ${input.runs} interleaved run(s) per target, ${Math.round(input.durationSeconds / 60)} min. ` +
      `1-minute load average ${input.load[0].toFixed(1)} at the start, ${input.load[1].toFixed(1)} at the end. ` +
      'Each cell is the median of the runs with (min–max); × ws is the ratio against raw ws in the same run, then its median.',
    `![Server CPU per unit of work](${input.chartPath})`,
  ];
  for (const scenario of input.scenarios) {
    if (!input.rows.some((row) => row.scenario === scenario.name)) continue;
    sections.push(
      `### ${scenario.title}\n\n${scenario.description}\n\n${renderScenarioTables(scenario, input.rows)}`,
    );
  }
  if (input.checks.length > 0) {
    const body = input.checks.map((check) => [
      `${check.scenario} ${check.variant}`,
      targetInfo(check.target).label,
      check.goal,
      check.actual,
      check.met ? 'met' : '**missed**',
    ]);
    sections.push(
      `### wslane against the targets\n\n${renderTable(['scenario', 'target', 'goal', 'measured', ''], body)}`,
    );
  }
  if (input.failures.length > 0) {
    const lines = input.failures.map(
      (f) => `- ${f.scenario}, ${f.target}, run ${f.run}: ${f.error.split('\n')[0]}`,
    );
    sections.push(`### Failed runs\n\n${lines.join('\n')}`);
  }
  return `${sections.join('\n\n')}\n`;
}

/** The chart's panels: server CPU per unit of work of each scenario variant, a bar per target. */
export function toChartPanels(
  scenarios: readonly Scenario[],
  rows: readonly SummaryRow[],
): ChartPanel[] {
  const panels: ChartPanel[] = [];
  for (const scenario of scenarios) {
    const primary = scenario.metrics.find((spec) => spec.key === 'cpuPerUnit');
    if (primary === undefined) continue;
    const ofScenario = rows.filter((row) => row.scenario === scenario.name);
    for (const variant of new Set(ofScenario.map((row) => row.variant))) {
      const bars = ofScenario
        .filter((row) => row.variant === variant)
        .map((row) => {
          const spread = row.metrics[primary.key];
          const info = targetInfo(row.target);
          return {
            label: info.label,
            value: spread?.median ?? Number.NaN,
            min: spread?.min ?? Number.NaN,
            max: spread?.max ?? Number.NaN,
            kind: info.wslane ? 'wslane' : row.target === BASELINE_TARGET ? 'baseline' : 'peer',
          } as const;
        });
      panels.push({ title: `${scenario.title}, ${variant}`, unit: primary.label, bars });
    }
  }
  return panels;
}
