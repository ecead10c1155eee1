import { readFile } from 'node:fs/promises';
import type { MachineInfo } from './machine.js';
import type { RunFailure, RunRecord } from './runner.js';

/** Everything one bench run measured, as saved in results.json and read back by `--from`. */
export interface BenchRun {
  readonly command: string;
  readonly startedAt: string;
  readonly durationSeconds: number;
  /** 1-minute load average at the start and at the end. */
  readonly load: readonly [number, number];
  readonly machine: MachineInfo;
  readonly runs: number;
  readonly scenarios: readonly string[];
  readonly records: readonly RunRecord[];
  readonly failures: readonly RunFailure[];
}

/**
 * Reads a saved run.
 *
 * @throws {Error} when the file is not a bench results file.
 */
export async function readBenchRun(path: string): Promise<BenchRun> {
  const run = JSON.parse(await readFile(path, 'utf8')) as Partial<BenchRun>;
  if (!Array.isArray(run.records) || run.machine === undefined || run.command === undefined) {
    throw new Error(`${path} is not a bench results file`);
  }
  return run as BenchRun;
}
