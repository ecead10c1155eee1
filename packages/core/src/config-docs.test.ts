import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';

const CONFIG_DOC = new URL('../../../docs/config.md', import.meta.url);

/** Options that have no value in the parsed defaults but are still options. */
const OPTIONAL_PATHS = ['logger', 'limits.rateLimit.burst'];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Dotted paths of every node (`leavesOnly` false) or every leaf of a parsed config. */
function pathsOf(value: unknown, leavesOnly: boolean, prefix = ''): string[] {
  if (!isPlainObject(value)) return [prefix];
  const nested = Object.entries(value).flatMap(([key, child]) =>
    pathsOf(child, leavesOnly, prefix === '' ? key : `${prefix}.${key}`),
  );
  return leavesOnly || prefix === '' ? nested : [prefix, ...nested];
}

/** The backticked option names in the first column of the tables of docs/config.md. */
function documentedOptions(doc: string): string[] {
  return doc
    .split('\n')
    .map((line) => /^\|\s*`([A-Za-z.]+)`\s*\|/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}

describe('docs/config.md', () => {
  const doc = readFileSync(CONFIG_DOC, 'utf8');
  const documented = documentedOptions(doc);

  it('has a table row for every leaf of the parsed default config, and for logger', () => {
    const leaves = [...pathsOf(parseConfig({}), true), ...OPTIONAL_PATHS];
    expect(leaves.length).toBeGreaterThan(30);
    const missing = leaves.filter((path) => !documented.includes(path));
    expect(missing).toEqual([]);
  });

  it('documents no option the schema does not have', () => {
    const known = new Set([...pathsOf(parseConfig({}), false), ...OPTIONAL_PATHS]);
    const unknown = documented.filter((path) => !known.has(path));
    expect(unknown).toEqual([]);
  });

  it('documents each option once', () => {
    expect(new Set(documented).size).toBe(documented.length);
  });
});
