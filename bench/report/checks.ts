import { type TargetName, targetInfo } from '../harness/target-list.js';
import { WSLANE_MAX_BUFFERED_BYTES } from '../harness/wslane-limits.js';
import type { SummaryRow } from './summary.js';
import { formatNumber } from './tables.js';

/** One target of issue 6 for one wslane adapter: met or missed, with the figures behind it. */
export interface TargetCheck {
  readonly scenario: string;
  readonly variant: string;
  readonly target: TargetName;
  readonly goal: string;
  readonly actual: string;
  readonly met: boolean;
}

const MIB = 1024 * 1024;
const SLOW_CONSUMER_ALLOWANCE_MIB = WSLANE_MAX_BUFFERED_BYTES / MIB + 4;

/** Checks every wslane row against the targets of issue 6. */
export function checkTargets(rows: readonly SummaryRow[]): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const wslaneRows = rows.filter((row) => targetInfo(row.target).wslane);
  for (const row of wslaneRows) {
    const find = (target: TargetName): SummaryRow | undefined =>
      rows.find(
        (other) =>
          other.scenario === row.scenario &&
          other.variant === row.variant &&
          other.target === target,
      );
    const add = (goal: string, actual: string, met: boolean): void => {
      checks.push({
        scenario: row.scenario,
        variant: row.variant,
        target: row.target,
        goal,
        actual,
        met,
      });
    };
    const median = (key: string): number => row.metrics[key]?.median ?? Number.NaN;
    const worst = (key: string): number => row.metrics[key]?.max ?? Number.NaN;
    const ratio = (key: string): number => row.ratios[key]?.median ?? Number.NaN;
    switch (row.scenario) {
      case 'echo':
        add(
          'CPU/round trip ≤ 1.00× ws',
          `${formatNumber(ratio('cpuPerUnit'), 2)}×`,
          ratio('cpuPerUnit') <= 1,
        );
        add(
          'throughput ≥ 1.00× ws',
          `${formatNumber(ratio('throughput'), 2)}×`,
          ratio('throughput') >= 1,
        );
        break;
      case 'fanout': {
        const preframed = find('ws-preframed')?.metrics.cpuPerUnit?.median ?? Number.NaN;
        const socketIo = find('socket-io')?.metrics.cpuPerUnit?.median ?? Number.NaN;
        const cpu = median('cpuPerUnit');
        add(
          'CPU/delivery ≤ ws pre-framed',
          `${formatNumber(cpu, 2)} vs ${formatNumber(preframed, 2)} µs`,
          cpu <= preframed,
        );
        add(
          'CPU/delivery ≤ ½ socket.io',
          `${formatNumber(cpu, 2)} vs ${formatNumber(socketIo, 2)} µs`,
          cpu <= socketIo / 2,
        );
        add(
          'no member misses a message',
          `${formatNumber(worst('missed'), 0)} missed`,
          worst('missed') === 0,
        );
        break;
      }
      case 'idle-mem':
        add(
          'RSS/conn ≤ 1.25× ws',
          `${formatNumber(ratio('rssPerConn'), 2)}×`,
          ratio('rssPerConn') <= 1.25,
        );
        // The objects a connection keeps, without the allocator's and the GC's slack in RSS.
        add(
          'heap/conn ≤ 1.25× ws',
          `${formatNumber(ratio('heapPerConn'), 2)}×`,
          ratio('heapPerConn') <= 1.25,
        );
        break;
      case 'slow-consumer':
        add(
          `RSS growth ≤ ${formatNumber(SLOW_CONSUMER_ALLOWANCE_MIB, 0)} MiB`,
          `${formatNumber(worst('rssGrowth'), 1)} MiB (worst run)`,
          worst('rssGrowth') <= SLOW_CONSUMER_ALLOWANCE_MIB,
        );
        add(
          'healthy p99 ≤ 2× without',
          `${formatNumber(median('p99Ratio'), 2)}×`,
          median('p99Ratio') <= 2,
        );
        break;
      case 'churn':
        add(
          'heap after GC within 5% of start',
          `${formatNumber(worst('heapGrowthPct'), 1)}% (worst run)`,
          Math.abs(worst('heapGrowthPct')) <= 5,
        );
        add(
          'nothing left over',
          `${formatNumber(worst('leftOver'), 0)} left`,
          worst('leftOver') === 0,
        );
        break;
    }
  }
  return checks;
}
