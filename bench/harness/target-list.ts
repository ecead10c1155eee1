import type { ClientProtocol } from './protocol.js';

/** Every target, in the order the runs interleave them. */
export const TARGET_NAMES = [
  'ws',
  'ws-preframed',
  'socket-io',
  'express-ws',
  'hono-node',
  'crossws',
  'wslane-express',
  'wslane-koa',
  'wslane-hono',
] as const;

export type TargetName = (typeof TARGET_NAMES)[number];

/** What the parent knows of a target without loading it. */
export interface TargetInfo {
  readonly name: TargetName;
  readonly label: string;
  readonly protocol: ClientProtocol;
  readonly wslane: boolean;
}

const LABELS: Record<TargetName, string> = {
  ws: 'ws',
  'ws-preframed': 'ws (pre-framed)',
  'socket-io': 'socket.io',
  'express-ws': 'express-ws',
  'hono-node': '@hono/node-server',
  crossws: 'crossws',
  'wslane-express': 'wslane/express',
  'wslane-koa': 'wslane/koa',
  'wslane-hono': 'wslane/hono',
};

/** The target every ratio is taken against. */
export const BASELINE_TARGET: TargetName = 'ws';

export function targetInfo(name: TargetName): TargetInfo {
  return {
    name,
    label: LABELS[name],
    protocol: name === 'socket-io' ? 'socket.io' : 'ws',
    wslane: name.startsWith('wslane-'),
  };
}

export function isTargetName(value: string): value is TargetName {
  return (TARGET_NAMES as readonly string[]).includes(value);
}
