import type { RunRecord } from '../harness/runner.js';
import { BASELINE_TARGET, TARGET_NAMES, type TargetName } from '../harness/target-list.js';
import type { Scenario } from '../scenarios/scenario.js';
import { type Spread, spreadOf } from './stats.js';

/** Every run of one target on one scenario variant, folded into medians and ranges. */
export interface SummaryRow {
  readonly scenario: string;
  readonly variant: string;
  readonly target: TargetName;
  readonly runs: number;
  readonly metrics: Readonly<Record<string, Spread>>;
  /** Per metric with `ratio`: value ÷ raw ws's value in the same run, over the runs. */
  readonly ratios: Readonly<Record<string, Spread>>;
}

/** Folds the records of each (scenario, variant, target) in scenario, variant and target order. */
export function summarize(
  records: readonly RunRecord[],
  scenarios: readonly Scenario[],
): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const scenario of scenarios) {
    const ofScenario = records.filter((record) => record.scenario === scenario.name);
    const variants = [...new Set(ofScenario.map((record) => record.variant))];
    for (const variant of variants) {
      const ofVariant = ofScenario.filter((record) => record.variant === variant);
      for (const target of TARGET_NAMES) {
        const runs = ofVariant.filter((record) => record.target === target);
        if (runs.length === 0) continue;
        rows.push(summarizeTarget(scenario, variant, target, runs, ofVariant));
      }
    }
  }
  return rows;
}

function summarizeTarget(
  scenario: Scenario,
  variant: string,
  target: TargetName,
  runs: readonly RunRecord[],
  ofVariant: readonly RunRecord[],
): SummaryRow {
  const metrics: Record<string, Spread> = {};
  const ratios: Record<string, Spread> = {};
  for (const spec of scenario.metrics) {
    metrics[spec.key] = spreadOf(runs.map((record) => record.metrics[spec.key] ?? Number.NaN));
    if (!spec.ratio) continue;
    ratios[spec.key] = spreadOf(
      runs.map((record) => {
        const baseline = ofVariant.find(
          (other) => other.target === BASELINE_TARGET && other.run === record.run,
        );
        return (
          (record.metrics[spec.key] ?? Number.NaN) / (baseline?.metrics[spec.key] ?? Number.NaN)
        );
      }),
    );
  }
  return { scenario: scenario.name, variant, target, runs: runs.length, metrics, ratios };
}
