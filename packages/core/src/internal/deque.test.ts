import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Deque } from './deque.js';

type Operation = { kind: 'push'; value: number } | { kind: 'shift' } | { kind: 'clear' };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 6, arbitrary: fc.integer().map((value) => ({ kind: 'push' as const, value })) },
  { weight: 4, arbitrary: fc.constant({ kind: 'shift' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
);

function drain<T>(deque: Deque<T>): T[] {
  const out: T[] = [];
  while (deque.length > 0) out.push(deque.shift() as T);
  return out;
}

describe('Deque', () => {
  it('starts empty and shifts undefined when empty', () => {
    const deque = new Deque<string>();
    expect(deque.length).toBe(0);
    expect(deque.shift()).toBeUndefined();
    expect(deque.length).toBe(0);
  });

  it('shifts items in the order they were pushed', () => {
    const deque = new Deque<string>();
    for (const item of ['a', 'b', 'c']) deque.push(item);
    expect(deque.length).toBe(3);
    expect(drain(deque)).toEqual(['a', 'b', 'c']);
  });

  it('keeps the order when it grows while wrapped around its ring', () => {
    const deque = new Deque<number>();
    for (let i = 0; i < 6; i++) deque.push(i);
    expect([deque.shift(), deque.shift(), deque.shift(), deque.shift()]).toEqual([0, 1, 2, 3]);
    for (let i = 6; i < 40; i++) deque.push(i);
    expect(drain(deque)).toEqual(Array.from({ length: 36 }, (_, i) => i + 4));
  });

  it('is empty and reusable after clear', () => {
    const deque = new Deque<number>();
    for (let i = 0; i < 20; i++) deque.push(i);
    deque.clear();
    expect(deque.length).toBe(0);
    expect(deque.shift()).toBeUndefined();
    deque.push(7);
    expect(drain(deque)).toEqual([7]);
  });

  it('behaves like an array used as a queue for any sequence of operations', () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 300 }), (operations) => {
        const deque = new Deque<number>();
        const model: number[] = [];
        for (const op of operations) {
          if (op.kind === 'push') {
            deque.push(op.value);
            model.push(op.value);
          } else if (op.kind === 'shift') {
            expect(deque.shift()).toBe(model.shift());
          } else {
            deque.clear();
            model.length = 0;
          }
          expect(deque.length).toBe(model.length);
        }
        expect(drain(deque)).toEqual(model);
      }),
    );
  });
});
