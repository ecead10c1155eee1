import fc from 'fast-check';
import { describe, it } from 'vitest';
import type { OverflowPolicy } from './config.js';
import { LaneModel } from './test-helpers/lane-model.js';
import type { Command, MessageVia, Scenario } from './test-helpers/lane-model-rules.js';

const NUM_RUNS = Number(process.env.WSLANE_PROPERTY_RUNS ?? 200);

const openCommandArbitrary: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 16,
    arbitrary: fc.record({
      kind: fc.constantFrom<MessageVia>('send', 'trySend', 'offer'),
      pad: fc.nat({ max: 12 }),
      binary: fc.boolean(),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('stream' as const),
      pads: fc.array(fc.nat({ max: 6 }), { maxLength: 4 }),
      binary: fc.option(fc.boolean(), { nil: undefined }),
      text: fc.boolean(),
      gated: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('release' as const),
      fail: fc.nat({ max: 5 }).map((roll) => roll === 0),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('flush' as const),
      count: fc.integer({ min: 1, max: 4 }),
    }),
  },
);

const anyCommandArbitrary: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: openCommandArbitrary },
  { weight: 1, arbitrary: fc.constant({ kind: 'end' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'abort' as const }) },
);

const scenarioArbitrary: fc.Arbitrary<Scenario> = fc.record({
  limits: fc.record({
    highWaterMark: fc.integer({ min: 0, max: 16 }),
    maxBufferedBytes: fc.integer({ min: 1, max: 64 }),
    overflow: fc.constantFrom<OverflowPolicy>('close', 'drop-newest', 'drop-oldest', 'reject'),
  }),
  abortOnOverflow: fc.boolean(),
  // A busy stretch first, then a tail where end and abort may land among the other calls.
  commands: fc
    .tuple(
      fc.array(openCommandArbitrary, { minLength: 1, maxLength: 30, size: 'max' }),
      fc.array(anyCommandArbitrary, { maxLength: 10, size: 'max' }),
    )
    .map(([busy, tail]) => [...busy, ...tail]),
});

describe('SerializedWriter (model-based)', () => {
  it('keeps order, atomicity, byte bounds, counters and every promise answer under random interleavings', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArbitrary, async (scenario) => {
        const model = new LaneModel(scenario);
        for (const command of scenario.commands) await model.step(command);
        await model.finish();
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
