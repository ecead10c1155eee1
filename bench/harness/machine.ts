import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';

/** The machine a run was measured on. */
export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  readonly openFilesLimit: number | undefined;
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
  };
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
