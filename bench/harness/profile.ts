/** Counts and durations of one bench run; `--quick` shrinks every one of them. */
export interface BenchProfile {
  readonly runs: number;
  readonly echo: {
    readonly connections: number;
    readonly inFlight: number;
    readonly messageSizes: readonly number[];
    readonly warmupMs: number;
    readonly measureMs: number;
  };
  readonly fanout: {
    readonly roomSizes: readonly number[];
    readonly warmupRounds: number;
    readonly rounds: number;
    readonly roundTimeoutMs: number;
    readonly maxPhaseMs: number;
  };
  /** `settleMs`: how long connections stay quiet before they are measured. */
  readonly idleMem: { readonly connections: number; readonly settleMs: number };
  readonly slowConsumer: {
    readonly baselineMs: number;
    readonly floodMs: number;
    readonly messageBytes: number;
    readonly maxRssBytes: number;
  };
  readonly churn: {
    readonly connections: number;
    readonly concurrency: number;
    readonly warmup: number;
    readonly timeoutMs: number;
  };
}

const GIB = 1024 ** 3;

export const FULL_PROFILE: BenchProfile = {
  runs: 3,
  echo: { connections: 50, inFlight: 32, messageSizes: [64, 4096], warmupMs: 500, measureMs: 2000 },
  fanout: {
    roomSizes: [2000, 5000],
    warmupRounds: 5,
    rounds: 30,
    roundTimeoutMs: 10_000,
    maxPhaseMs: 20_000,
  },
  idleMem: { connections: 5000, settleMs: 2500 },
  slowConsumer: { baselineMs: 1500, floodMs: 5000, messageBytes: 64 * 1024, maxRssBytes: 6 * GIB },
  churn: { connections: 20_000, concurrency: 200, warmup: 1000, timeoutMs: 120_000 },
};

export const QUICK_PROFILE: BenchProfile = {
  runs: 1,
  echo: { connections: 50, inFlight: 32, messageSizes: [64, 4096], warmupMs: 200, measureMs: 700 },
  fanout: {
    roomSizes: [200, 500],
    warmupRounds: 2,
    rounds: 10,
    roundTimeoutMs: 5_000,
    maxPhaseMs: 5_000,
  },
  idleMem: { connections: 1000, settleMs: 1200 },
  slowConsumer: { baselineMs: 500, floodMs: 1500, messageBytes: 64 * 1024, maxRssBytes: 2 * GIB },
  churn: { connections: 2000, concurrency: 100, warmup: 200, timeoutMs: 30_000 },
};
