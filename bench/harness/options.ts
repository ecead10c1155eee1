import type { ScenarioName } from '../scenarios/scenario.js';
import { type BenchProfile, FULL_PROFILE, QUICK_PROFILE } from './profile.js';
import { isTargetName, type TargetName } from './target-list.js';

const SCENARIO_NAMES: readonly ScenarioName[] = [
  'echo',
  'fanout',
  'idle-mem',
  'slow-consumer',
  'churn',
];

/** What `npm run bench -- …` asked for. */
export interface BenchOptions {
  readonly quick: boolean;
  readonly profile: BenchProfile;
  /** Empty: every scenario. */
  readonly scenarios: readonly ScenarioName[];
  /** Empty: every target. */
  readonly targets: readonly TargetName[];
  /** Also write BENCHMARKS.md's generated section and docs/bench-cpu.svg. */
  readonly publish: boolean;
  readonly outDir: string;
  /** Report a saved run (its results JSON) instead of measuring. */
  readonly from: string | undefined;
}

export const USAGE = `usage: npm run bench -- [--quick] [--scenario <name>[,<name>]] [--target <name>[,<name>]]
                           [--runs <n>] [--publish] [--out <dir>] [--from <results.json>]
scenarios: ${SCENARIO_NAMES.join(', ')}`;

/**
 * Parses the bench's command line.
 *
 * @throws {Error} for an unknown flag, scenario or target, with the usage in its message.
 */
export function parseBenchOptions(argv: readonly string[], defaultOutDir: string): BenchOptions {
  let quick = false;
  let publish = false;
  let runs: number | undefined;
  let outDir = defaultOutDir;
  let from: string | undefined;
  const scenarios: ScenarioName[] = [];
  const targets: TargetName[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = (argv[i] as string).split('=', 2) as [string, string | undefined];
    const value = (): string => {
      const next = inline ?? argv[++i];
      if (next === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
      return next;
    };
    switch (flag) {
      case '--quick':
        quick = true;
        break;
      case '--publish':
        publish = true;
        break;
      case '--runs':
        runs = Number(value());
        if (!Number.isInteger(runs) || runs < 1)
          throw new Error(`--runs must be a positive integer\n${USAGE}`);
        break;
      case '--out':
        outDir = value();
        break;
      case '--from':
        from = value();
        break;
      case '--scenario':
        for (const name of value().split(',')) {
          if (!SCENARIO_NAMES.includes(name as ScenarioName))
            throw new Error(`unknown scenario ${name}\n${USAGE}`);
          scenarios.push(name as ScenarioName);
        }
        break;
      case '--target':
        for (const name of value().split(',')) {
          if (!isTargetName(name)) throw new Error(`unknown target ${name}\n${USAGE}`);
          targets.push(name);
        }
        break;
      default:
        throw new Error(`unknown option ${flag}\n${USAGE}`);
    }
  }
  const base = quick ? QUICK_PROFILE : FULL_PROFILE;
  return {
    quick,
    profile: runs === undefined ? base : { ...base, runs },
    scenarios,
    targets,
    publish,
    outDir,
    from,
  };
}
