import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const outDirs: string[] = [];

afterEach(async () => {
  for (const dir of outDirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('bench harness', () => {
  it('runs a quick echo of raw ws in its own server and client processes and writes its results', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'wslane-bench-'));
    outDirs.push(outDir);
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/run.ts',
        '--quick',
        '--scenario',
        'echo',
        '--target',
        'ws',
        '--out',
        outDir,
      ],
      { cwd: ROOT, timeout: 60_000 },
    );
    expect(stdout).toContain('#### Echo, 64 B');
    const results = JSON.parse(await readFile(join(outDir, 'results.json'), 'utf8'));
    expect(results.failures).toEqual([]);
    expect(results.records.map((r: { variant: string }) => r.variant)).toEqual(['64 B', '4 KiB']);
    for (const record of results.records) {
      expect(record.target).toBe('ws');
      expect(record.metrics.cpuPerUnit).toBeGreaterThan(0);
      expect(record.metrics.throughput).toBeGreaterThan(0);
    }
    expect(await readFile(join(outDir, 'chart.svg'), 'utf8')).toContain('<svg');
  }, 60_000);
});
