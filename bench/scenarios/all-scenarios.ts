import { churnScenario } from './churn.js';
import { echoScenario } from './echo.js';
import { fanoutScenario } from './fanout.js';
import { idleMemScenario } from './idle-mem.js';
import type { Scenario } from './scenario.js';
import { slowConsumerScenario } from './slow-consumer.js';

/** Every scenario, in the order a full run goes through them. */
export const ALL_SCENARIOS: readonly Scenario[] = [
  echoScenario,
  fanoutScenario,
  idleMemScenario,
  slowConsumerScenario,
  churnScenario,
];
