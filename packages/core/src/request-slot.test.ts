import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { RequestSlot } from './request-slot.js';

describe('RequestSlot', () => {
  it('keeps one value per request and per slot, out of sight of enumeration', () => {
    const pending = new RequestSlot<string>('pending');
    const other = new RequestSlot<string>('pending');
    const a = { url: '/a' };
    const b = { url: '/b' };
    pending.set(a, 'first');
    other.set(a, 'second');
    expect(pending.get(a)).toBe('first');
    expect(other.get(a)).toBe('second');
    expect(pending.get(b)).toBeUndefined();
    expect(Object.keys(a)).toEqual(['url']);
    expect(JSON.stringify(a)).toBe('{"url":"/a"}');
    pending.clear(a);
    expect(pending.get(a)).toBeUndefined();
    expect(other.get(a)).toBe('second');
  });

  it('lets requests whose value points back at them die in a young GC, where a WeakMap would not', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (options: { type: 'minor' | 'major' }) => void;
    const oldSpaceUsed = () =>
      getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')?.space_used_size ??
      0;
    // Bytes promoted to the old generation by young GCs while 20,000 requests (~1 KiB each)
    // come and go, and by two more after the last.
    const promotedAfter = (attach: (request: object) => void): number => {
      gc({ type: 'major' });
      const before = oldSpaceUsed();
      for (let i = 0; i < 20_000; i++) {
        const request = { headers: new Array(100).fill(i) };
        attach(request);
      }
      gc({ type: 'minor' });
      gc({ type: 'minor' });
      return oldSpaceUsed() - before;
    };
    const slot = new RequestSlot<{ request: object }>('pending');
    const map = new WeakMap<object, { request: object }>();
    const viaMap = promotedAfter((request) => map.set(request, { request }));
    const viaSlot = promotedAfter((request) => slot.set(request, { request }));
    // The control: were V8 to stop keeping such entries, this test would no longer test anything.
    expect(viaMap).toBeGreaterThan(4 * 1024 * 1024);
    expect(viaSlot).toBeLessThan(viaMap / 20);
  });
});
