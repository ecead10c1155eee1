import { targetInfo } from '../harness/target-list.js';
import type { Scenario } from '../scenarios/scenario.js';
import type { Spread } from './stats.js';
import type { SummaryRow } from './summary.js';

/** A number with a fixed count of decimals and thousands separators. */
export function formatNumber(value: number, digits: number): string {
  if (!Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** `median (min–max)`, or just the value for a single run. */
export function formatSpread(spread: Spread | undefined, digits: number, suffix = ''): string {
  if (spread === undefined || !Number.isFinite(spread.median)) return '–';
  const value = `${formatNumber(spread.median, digits)}${suffix}`;
  if (spread.min === spread.max) return value;
  return `${value} (${formatNumber(spread.min, digits)}–${formatNumber(spread.max, digits)})`;
}

/** A Markdown table (also readable in a terminal). */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  const rule = `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

/** One table per variant of `scenario`: a row per target, every metric as median (min–max). */
export function renderScenarioTables(scenario: Scenario, rows: readonly SummaryRow[]): string {
  const ofScenario = rows.filter((row) => row.scenario === scenario.name);
  const variants = [...new Set(ofScenario.map((row) => row.variant))];
  const headers = ['target'];
  for (const spec of scenario.metrics) {
    headers.push(spec.label);
    if (spec.ratio) headers.push('× ws');
  }
  return variants
    .map((variant) => {
      const body = ofScenario
        .filter((row) => row.variant === variant)
        .map((row) => {
          const cells = [targetInfo(row.target).label];
          for (const spec of scenario.metrics) {
            cells.push(formatSpread(row.metrics[spec.key], spec.digits));
            if (spec.ratio) cells.push(formatSpread(row.ratios[spec.key], 2, '×'));
          }
          return cells;
        });
      return `#### ${scenario.title}, ${variant}\n\n${renderTable(headers, body)}`;
    })
    .join('\n\n');
}
