import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, totalmem } from 'node:os';

/** The machine a run was measured on. */
export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  readonly openFilesLimit: number | undefined;
  /**
   * Whether ws masks and unmasks frames with its native addon `bufferutil` (a dependency of the
   * bench) rather than in JavaScript, for every target alike.
   */
  readonly wsBufferUtil: boolean;
}

export function describeMachine(): MachineInfo {
  return {
    cpus: availableParallelism(),
    cpuModel:
      readProc('/proc/cpuinfo')
        ?.match(/^model name\s*:\s*(.+)$/m)?.[1]
        ?.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    openFilesLimit: openFilesLimit(),
    wsBufferUtil: wsLoadsBufferUtil(),
  };
}

/** What ws's own `require('bufferutil')` finds (ws skips it when WS_NO_BUFFER_UTIL is set). */
function wsLoadsBufferUtil(): boolean {
  if (process.env.WS_NO_BUFFER_UTIL) return false;
  try {
    const fromBench = createRequire(import.meta.url);
    createRequire(fromBench.resolve('ws'))('bufferutil');
    return true;
  } catch {
    return false;
  }
}

/** The soft `ulimit -n` of this process (children inherit it). */
export function openFilesLimit(): number | undefined {
  const line = readProc('/proc/self/limits')?.match(/^Max open files\s+(\d+)/m);
  return line?.[1] === undefined ? undefined : Number(line[1]);
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
