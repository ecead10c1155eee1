import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import {
  type Corkable,
  LaneOutput,
  type LaneSocket,
  type SendFrameOptions,
  type SharedFrame,
  toSharedFrame,
} from './lane-socket.js';

/** A ws stand-in and the TCP socket under it, logging everything the lane does to them. */
function createSockets() {
  const log: string[] = [];
  const probes: ((error?: Error | null) => void)[] = [];
  const ws: LaneSocket & { bufferedAmount: number; readyState: number } = {
    bufferedAmount: 0,
    readyState: 1,
    send(data: Buffer | string, options: SendFrameOptions, cb?: (error?: Error) => void) {
      log.push(`send ${data.toString()}${options.fin ? '' : ' (more)'}${cb ? ' +cb' : ''}`);
    },
  };
  const raw: Corkable = {
    cork: () => log.push('cork'),
    uncork: () => log.push('uncork'),
    write(frame: Buffer, cb?: (error?: Error | null) => void) {
      if (frame.length === 0 && cb !== undefined) {
        log.push('probe');
        probes.push(cb);
      } else {
        log.push(`raw ${frame.subarray(2).toString()}${cb ? ' +cb' : ''}`);
      }
      return true;
    },
  };
  return { log, probes, ws, raw };
}

/** The output with its lane's side opened up for the test, counting progress reports. */
class TestOutput extends LaneOutput {
  progress = 0;

  protected onSocketProgress(): void {
    this.progress++;
  }

  write(data: Buffer | string, binary: boolean, fin: boolean): void {
    this.sendFrame(data, binary, fin);
  }

  writeShared(shared: SharedFrame): void {
    this.sendShared(shared);
  }

  override expectProgress(): void {
    super.expectProgress();
  }

  override flushHeld(): void {
    super.flushHeld();
  }

  override get bufferedAmount(): number {
    return super.bufferedAmount;
  }

  get probeStartedAt(): number {
    return this.waitingSince;
  }
}

function createOutput() {
  const sockets = createSockets();
  const output = new TestOutput(sockets.ws, sockets.raw);
  return { ...sockets, output, progressCount: () => output.progress };
}

const nextTick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

describe('LaneOutput', () => {
  it('frames a shared message once with ws, as one unmasked final frame', () => {
    const shared = toSharedFrame(Buffer.from('hello'), false);
    expect([...shared.frame.subarray(0, 2)]).toEqual([0x81, 5]);
    expect(shared.frame.subarray(2).toString()).toBe('hello');
    expect(toSharedFrame(Buffer.alloc(300), true).frame.subarray(0, 4)).toEqual(
      Buffer.from([0x82, 126, 1, 44]),
    );
  });

  it('holds a lone shared frame to the end of the tick and writes it raw, without a callback', async () => {
    const { log, output } = createOutput();
    output.writeShared(toSharedFrame(Buffer.from('a'), false));
    expect(log).toEqual([]);
    expect(output.bufferedAmount).toBe(3);
    await nextTick();
    expect(log).toEqual(['raw a']);
  });

  it('corks on a second write of the tick: the held frame first, everything out at the end', async () => {
    const { log, output } = createOutput();
    output.writeShared(toSharedFrame(Buffer.from('a'), false));
    output.write('b', false, true);
    output.writeShared(toSharedFrame(Buffer.from('c'), false));
    expect(log).toEqual(['cork', 'raw a', 'send b', 'raw c']);
    await nextTick();
    expect(log).toEqual(['cork', 'raw a', 'send b', 'raw c', 'uncork']);
  });

  it('sends through ws once it is past OPEN: a raw frame would follow its close frame', async () => {
    const { log, ws, output } = createOutput();
    ws.readyState = 2;
    output.writeShared(toSharedFrame(Buffer.from('a'), false));
    await nextTick();
    expect(log).toEqual(['cork', 'send a', 'uncork']);
  });

  it('writes a held frame at once when asked (before a close frame)', () => {
    const { log, output } = createOutput();
    output.writeShared(toSharedFrame(Buffer.from('a'), false));
    output.flushHeld();
    expect(log).toEqual(['raw a']);
    expect(output.bufferedAmount).toBe(0);
  });

  it('reports progress through a zero-length probe when bytes stay in the socket', async () => {
    const { log, probes, ws, output, progressCount } = createOutput();
    output.write('a', true, true);
    ws.bufferedAmount = 10;
    await nextTick();
    expect(log).toEqual(['cork', 'send a', 'uncork', 'probe']);
    expect(output.probeStartedAt).toBeGreaterThan(0);
    expect(progressCount()).toBe(0);
    ws.bufferedAmount = 0;
    probes.shift()?.();
    expect(progressCount()).toBe(1);
  });

  it('tells a waiting lane at the end of the tick when the kernel took everything', async () => {
    const { log, output, progressCount } = createOutput();
    output.write('a', true, true);
    output.expectProgress();
    await nextTick();
    expect(log).toEqual(['cork', 'send a', 'uncork']);
    expect(progressCount()).toBe(1);
  });

  it('sends a probe when a lane starts waiting on bytes already in the socket', () => {
    const { log, ws, output } = createOutput();
    ws.bufferedAmount = 10;
    output.expectProgress();
    output.expectProgress();
    expect(log).toEqual(['probe']);
  });

  it('without a raw socket, every write carries the progress callback', async () => {
    const { log, ws } = createSockets();
    const output = new TestOutput(ws, undefined);
    output.writeShared(toSharedFrame(Buffer.from('a'), false));
    output.write('b', false, false);
    await nextTick();
    expect(log).toEqual(['send a +cb', 'send b (more) +cb']);
    expect(output.progress).toBe(0);
  });
});
