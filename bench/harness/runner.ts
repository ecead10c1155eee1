import type { Scenario } from '../scenarios/scenario.js';
import { ClientPool } from './client-pool.js';
import type { BenchProfile } from './profile.js';
import { type ServerProcess, startServer } from './server-process.js';
import { type TargetName, targetInfo } from './target-list.js';

/** One variant of one scenario, measured on one target in one run. */
export interface RunRecord {
  readonly scenario: string;
  readonly variant: string;
  readonly target: TargetName;
  readonly run: number;
  readonly metrics: Readonly<Record<string, number>>;
}

/** A scenario run that failed: it has no record, only this. */
export interface RunFailure {
  readonly scenario: string;
  readonly target: TargetName;
  readonly run: number;
  readonly error: string;
}

export interface RunnerOutput {
  readonly records: RunRecord[];
  readonly failures: RunFailure[];
}

/** What the runner tells the caller as it goes. */
export type ProgressListener = (line: string) => void;

/** A whole scenario run (all its variants) of one target may take at most this long. */
const SCENARIO_TIMEOUT_MS = 10 * 60_000;

/**
 * Runs each scenario: targets interleaved run after run (A B C A B C …), each target in a fresh
 * server process, the load from the scenario's client processes. A failure is recorded and the
 * run goes on with the next target.
 */
export async function runScenarios(
  scenarios: readonly Scenario[],
  targetFilter: readonly TargetName[],
  profile: BenchProfile,
  progress: ProgressListener,
): Promise<RunnerOutput> {
  const output: RunnerOutput = { records: [], failures: [] };
  for (const scenario of scenarios) {
    const targets = scenario.targets.filter(
      (name) => targetFilter.length === 0 || targetFilter.includes(name),
    );
    if (targets.length === 0) continue;
    let clients = await ClientPool.start(scenario.clientProcesses);
    try {
      for (let run = 1; run <= profile.runs; run++) {
        for (const name of targets) {
          const ok = await runOne(scenario, name, run, clients, profile, output, progress);
          if (!ok) {
            // A client process may be wedged after a failure: start the next target on fresh ones.
            await clients.stop();
            clients = await ClientPool.start(scenario.clientProcesses);
          }
        }
      }
    } finally {
      await clients.stop();
    }
  }
  return output;
}

async function runOne(
  scenario: Scenario,
  name: TargetName,
  run: number,
  clients: ClientPool,
  profile: BenchProfile,
  output: RunnerOutput,
  progress: ProgressListener,
): Promise<boolean> {
  const prefix = `[${scenario.name} ${run}/${profile.runs}] ${name}`;
  let server: ServerProcess | undefined;
  try {
    server = await startServer(name, scenario.serverNodeFlags);
    const target = targetInfo(name);
    const samples = await withTimeout(
      scenario.run({
        target,
        clientTarget: { protocol: target.protocol, port: server.ready.port },
        server,
        clients,
        profile,
      }),
      SCENARIO_TIMEOUT_MS,
    );
    for (const sample of samples) {
      output.records.push({
        scenario: scenario.name,
        variant: sample.variant,
        target: name,
        run,
        metrics: sample.metrics,
      });
      progress(`${prefix} ${sample.variant}: ${formatMetrics(sample.metrics)}`);
    }
    await clients.all('closeAll', null);
    return true;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    output.failures.push({ scenario: scenario.name, target: name, run, error: message });
    progress(`${prefix} FAILED: ${message}`);
    return false;
  } finally {
    if (server !== undefined) await (scenario.killServer ? server.kill() : server.stop());
  }
}

function formatMetrics(metrics: Readonly<Record<string, number>>): string {
  return Object.entries(metrics)
    .map(([key, value]) => `${key}=${Number.isInteger(value) ? value : value.toFixed(2)}`)
    .join(' ');
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
