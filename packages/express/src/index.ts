export type { ExpressLane } from './lane.js';
export { wslane } from './lane.js';
export type { UpgradeContext, UpgradeOptions } from './upgrade-options.js';
