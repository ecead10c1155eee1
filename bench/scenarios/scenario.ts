import type { ClientPool } from '../harness/client-pool.js';
import type { BenchProfile } from '../harness/profile.js';
import type { ClientTarget } from '../harness/protocol.js';
import type { ServerProcess } from '../harness/server-process.js';
import type { TargetInfo, TargetName } from '../harness/target-list.js';

export type ScenarioName = 'echo' | 'fanout' | 'idle-mem' | 'slow-consumer' | 'churn';

/** One measured figure of a scenario, as the report shows it. */
export interface MetricSpec {
  readonly key: string;
  readonly label: string;
  readonly digits: number;
  readonly better: 'lower' | 'higher';
  /** Show the ratio against raw ws from the same run. */
  readonly ratio?: boolean;
  /** The scenario's headline figure (server CPU per unit of work, or memory): it goes in the chart. */
  readonly primary?: boolean;
}

/** What one scenario run of one target measured, per variant (message size, room size). */
export interface Sample {
  readonly variant: string;
  readonly metrics: Readonly<Record<string, number>>;
}

/** What a scenario gets for one run of one target. */
export interface ScenarioContext {
  readonly target: TargetInfo;
  readonly clientTarget: ClientTarget;
  readonly server: ServerProcess;
  readonly clients: ClientPool;
  readonly profile: BenchProfile;
}

export interface Scenario {
  readonly name: ScenarioName;
  readonly title: string;
  /** One line: what is measured and how. */
  readonly description: string;
  readonly targets: readonly TargetName[];
  readonly clientProcesses: number;
  readonly metrics: readonly MetricSpec[];
  /** Extra node flags of the server process in this scenario. */
  readonly serverNodeFlags?: readonly string[];
  /** The server is killed at once afterwards instead of stopped (it may hold gigabytes). */
  readonly killServer?: boolean;
  run(context: ScenarioContext): Promise<Sample[]>;
}

/** Every target but the pre-framed ws variant, which only differs in broadcast. */
export const ALL_BUT_PREFRAMED: readonly TargetName[] = [
  'ws',
  'socket-io',
  'express-ws',
  'hono-node',
  'crossws',
  'wslane-express',
  'wslane-koa',
  'wslane-hono',
];
