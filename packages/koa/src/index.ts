export type {
  DefaultUpgradeContext,
  UpgradeFunction,
  UpgradeOptions,
  UpgradeOptionsWithContext,
} from './upgrade-options.js';
export type { KoaLane } from './wslane.js';
export { wslane } from './wslane.js';
