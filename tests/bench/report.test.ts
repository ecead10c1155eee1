import { describe, expect, it } from 'vitest';
import { parseBenchOptions } from '../../bench/harness/options.js';
import type { RunRecord } from '../../bench/harness/runner.js';
import { renderBarChart } from '../../bench/report/chart.js';
import { Histogram } from '../../bench/report/histogram.js';
import { median, spreadOf } from '../../bench/report/stats.js';
import { summarize } from '../../bench/report/summary.js';
import { formatSpread, renderTable } from '../../bench/report/tables.js';
import { echoScenario } from '../../bench/scenarios/echo.js';

describe('bench report', () => {
  it('takes the median of odd and even counts and ignores non-finite runs', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([5, Number.NaN, 1, 3])).toBe(3);
    expect(median([])).toBeNaN();
    expect(spreadOf([3, 9, 6])).toEqual({ median: 6, min: 3, max: 9 });
  });

  it('reads percentiles from a histogram within its bucket resolution, and merges histograms', () => {
    const histogram = new Histogram();
    for (let value = 1; value <= 1000; value++) histogram.record(value);
    expect(histogram.total).toBe(1000);
    expect(histogram.percentile(50)).toBeGreaterThanOrEqual(500);
    expect(histogram.percentile(50)).toBeLessThanOrEqual(500 * 1.04);
    expect(histogram.percentile(99)).toBeGreaterThanOrEqual(990);
    expect(histogram.percentile(99)).toBeLessThanOrEqual(990 * 1.04);
    expect(histogram.percentile(100)).toBe(1000);
    const other = new Histogram();
    other.record(5000);
    const merged = Histogram.from(histogram.toData());
    merged.merge(other.toData());
    expect(merged.total).toBe(1001);
    expect(merged.percentile(100)).toBe(5000);
    expect(new Histogram().percentile(50)).toBeNaN();
  });

  it('folds runs into medians with min–max and ratios against raw ws of the same run', () => {
    const record = (target: RunRecord['target'], run: number, cpuPerUnit: number): RunRecord => ({
      scenario: 'echo',
      variant: '64 B',
      target,
      run,
      metrics: { cpuPerUnit, throughput: 1000 },
    });
    const rows = summarize(
      [
        record('ws', 1, 10),
        record('wslane-koa', 1, 5),
        record('ws', 2, 20),
        record('wslane-koa', 2, 20),
        record('ws', 3, 10),
        record('wslane-koa', 3, 8),
      ],
      [echoScenario],
    );
    const koa = rows.find((row) => row.target === 'wslane-koa');
    expect(koa?.metrics.cpuPerUnit).toEqual({ median: 8, min: 5, max: 20 });
    expect(koa?.ratios.cpuPerUnit).toEqual({ median: 0.8, min: 0.5, max: 1 });
    expect(formatSpread(koa?.metrics.cpuPerUnit, 1)).toBe('8.0 (5.0–20.0)');
    expect(formatSpread({ median: 2, min: 2, max: 2 }, 2, '×')).toBe('2.00×');
  });

  it('renders aligned Markdown tables and a standalone SVG chart', () => {
    const table = renderTable(
      ['target', 'µs'],
      [
        ['ws', '5.6'],
        ['wslane/koa', '4.2'],
      ],
    ).split('\n');
    expect(table).toHaveLength(4);
    expect(new Set(table.map((line) => line.length)).size).toBe(1);
    const svg = renderBarChart('title <&>', [
      {
        title: 'Echo, 64 B',
        unit: 'server CPU µs/round trip',
        bars: [
          { label: 'ws', value: 5.6, min: 5.5, max: 5.8, kind: 'baseline' },
          { label: 'wslane/koa', value: 4.2, min: 4, max: 4.4, kind: 'wslane' },
        ],
      },
    ]);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('title &#60;&#38;&#62;');
    expect(svg.match(/<rect /g)?.length).toBe(6);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  });

  it('parses the command line: --quick, filters, and errors that name the usage', () => {
    const quick = parseBenchOptions(['--quick', '--scenario', 'echo,churn', '--target=ws'], '/out');
    expect(quick.profile.runs).toBe(1);
    expect(quick.scenarios).toEqual(['echo', 'churn']);
    expect(quick.targets).toEqual(['ws']);
    expect(parseBenchOptions([], '/out').profile.runs).toBeGreaterThanOrEqual(3);
    expect(parseBenchOptions(['--runs', '5'], '/out').profile.runs).toBe(5);
    expect(() => parseBenchOptions(['--scenario', 'nope'], '/out')).toThrow(/usage/);
    expect(() => parseBenchOptions(['--target', 'nope'], '/out')).toThrow(/usage/);
    expect(() => parseBenchOptions(['--fast'], '/out')).toThrow(/usage/);
  });
});
