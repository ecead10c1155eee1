import { createRoute, type RawMessage } from '@wslane/core';
import { connect } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { SILENT, WireClient } from '../scenarios/helpers/wire-client.js';
import { OP, type WireFrame } from '../scenarios/helpers/wire-frames.js';
import { Rng, terminalCase, validCase } from './frame-generator.js';
import { type ModelLimits, type ModelMessage, ReceiverModel, type Verdict } from './frame-model.js';

/**
 * A seeded frame-stream fuzzer against a live hub. Each connection gets a batch of valid cases
 * (messages whole or fragmented, text with every UTF-8 width, pings and pongs between fragments,
 * over-long length fields, zero masks), written in random pieces, then one case that ends it:
 * a protocol violation, random garbage, a valid close, or a peer that vanishes mid-frame.
 * A reference model of the receiver (frame-model.ts) gives the exact expected outcome: every
 * message echoed and every ping ponged in order, then the exact close code (or the echo of the
 * client's close). A health client must keep working throughout, and nothing may be left.
 *
 * Replay a failure with WSLANE_FUZZ_SEED=<seed>; scale with WSLANE_FUZZ_CASES=<n>.
 */

const SEED = Number(process.env.WSLANE_FUZZ_SEED ?? 0x5eed_2026);
const TARGET_CASES = Number(process.env.WSLANE_FUZZ_CASES ?? 10_000);
const WORKERS = 4;
const LIMITS: ModelLimits = { maxPayload: 4096, maxFragments: 16 };
const LEGAL_SERVER_OPCODES = new Set<number>([OP.text, OP.binary, OP.close, OP.ping, OP.pong]);

const startHubServer = useHubServers();

interface Totals {
  cases: number;
  connections: number;
  /** Server closes for a protocol error, by close code. */
  errorCloses: Record<number, number>;
  /** Terminal cases by kind. */
  kinds: Record<string, number>;
}

function isData(frame: WireFrame): boolean {
  return frame.opcode === OP.text || frame.opcode === OP.binary;
}

/** Messages as short comparable strings: deep equality over thousands of Buffers is slow. */
function digestFrames(frames: readonly WireFrame[]): string[] {
  return frames.map((frame) => `${frame.opcode}:${frame.payload.toString('base64')}`);
}

function digestMessages(messages: readonly ModelMessage[]): string[] {
  return messages.map(
    (message) => `${message.binary ? OP.binary : OP.text}:${message.data.toString('base64')}`,
  );
}

function digestPayloads(payloads: readonly Buffer[]): string[] {
  return payloads.map((payload) => payload.toString('base64'));
}

/** Writes `bytes` in 1 to 4 pieces cut at random points (frames split across TCP writes). */
async function writeInPieces(client: WireClient, bytes: Buffer, rng: Rng): Promise<void> {
  const cuts = Array.from({ length: rng.int(0, 3) }, () => rng.int(0, bytes.length)).sort(
    (a, b) => a - b,
  );
  let start = 0;
  for (const end of [...cuts, bytes.length]) {
    if (end > start) await client.write(bytes.subarray(start, end));
    start = end;
  }
}

describe('frame-stream fuzzer', () => {
  it(
    `answers ${TARGET_CASES} random frame streams with echoes and exact close codes, and keeps serving`,
    async () => {
      const probe = createProbe<RawMessage, RawMessage>({
        onMessage: (message, channel) => {
          channel.trySend(message);
        },
      });
      const health = createRoute({
        name: 'health',
        onMessage: (message, channel) => {
          channel.trySend(message);
        },
      });
      const server = await startHubServer(
        { '/fuzz': probe.route, '/health': health },
        {
          limits: { ...LIMITS, rateLimit: false, maxConnectionsPerIp: 0 },
          timeouts: { heartbeat: false },
        },
      );
      const healthClient = await connect(server.url('/health'));
      let healthChecks = 0;
      let healthChain = Promise.resolve();
      const checkHealth = (): Promise<void> => {
        healthChain = healthChain.then(async () => {
          const text = `health ${++healthChecks}`;
          healthClient.ws.send(text);
          expect(await healthClient.next()).toBe(text);
        });
        return healthChain;
      };
      const totals: Totals = { cases: 0, connections: 0, errorCloses: {}, kinds: {} };

      async function runConnection(rng: Rng, label: string): Promise<number> {
        const client = await WireClient.open(server.url('/fuzz'), SILENT);
        totals.connections++;
        try {
          const model = new ReceiverModel(LIMITS);
          const valid = Array.from({ length: rng.int(0, 40) }, () => validCase(rng, LIMITS));
          const batch = Buffer.concat(valid.map((c) => c.bytes));
          model.feed(batch);
          if (model.verdict.kind !== 'open' || !model.atRest) {
            throw new Error(`${label}: generator made an invalid valid batch`);
          }
          await writeInPieces(client, batch, rng);
          const wantMessages = model.messages.length;
          const wantPongs = model.pings.length;
          await client.waitUntil(
            () =>
              client.frames.filter(isData).length >= wantMessages &&
              client.frames.filter((f) => f.opcode === OP.pong).length >= wantPongs,
            2000,
            `${label}: echoes of ${valid.map((c) => c.kind).join(',')}`,
          );
          expect(digestFrames(client.frames.filter(isData)), label).toEqual(
            digestMessages(model.messages),
          );
          expect(
            digestPayloads(client.frames.filter((f) => f.opcode === OP.pong).map((f) => f.payload)),
            label,
          ).toEqual(digestPayloads(model.pings));
          const seen = client.frames.length;

          const terminal = terminalCase(rng, LIMITS, model);
          totals.kinds[terminal.kind] = (totals.kinds[terminal.kind] ?? 0) + 1;
          await client.write(terminal.bytes);
          if (terminal.abrupt === true) {
            client.destroy();
            return valid.length + 1;
          }
          // Read again: TS keeps the narrowing from before terminalCase fed the model.
          const verdict = model.verdict as Verdict;
          const where = `${label}: terminal ${terminal.kind} (${terminal.bytes.toString('hex').slice(0, 80)})`;
          const { close, frames } = await client.outcome();
          if (verdict.kind === 'error') {
            expect(close, where).toEqual({ code: verdict.code, reason: '' });
            totals.errorCloses[verdict.code] = (totals.errorCloses[verdict.code] ?? 0) + 1;
          } else if (verdict.kind === 'close') {
            expect(close, where).toEqual({ code: verdict.code, reason: verdict.reason.toString() });
          } else {
            throw new Error(`${where}: the model left the stream open`);
          }
          // Before the close: only echoes of what the model accepted, in order (a prefix: an
          // error close may drop messages not yet handled), and pongs for its pings.
          const after = frames.slice(seen);
          const echoes = digestFrames(after.filter(isData));
          expect(echoes, where).toEqual(
            digestMessages(model.messages.slice(wantMessages, wantMessages + echoes.length)),
          );
          const pongs = digestPayloads(
            after.filter((f) => f.opcode === OP.pong).map((f) => f.payload),
          );
          expect(pongs, where).toEqual(
            digestPayloads(model.pings.slice(wantPongs, wantPongs + pongs.length)),
          );
          const illegal = client.frames.filter(
            (f) => !LEGAL_SERVER_OPCODES.has(f.opcode) || f.rsv !== 0 || f.masked || !f.fin,
          );
          expect(illegal, where).toEqual([]);
          await client.close();
          client.socket.end();
          return valid.length + 1;
        } finally {
          if (!client.isEnded) await client.waitEnded().catch(() => client.destroy());
        }
      }

      async function worker(index: number): Promise<void> {
        const seed = (SEED + index * 0x9e3779b9) >>> 0;
        const rng = new Rng(seed);
        let cases = 0;
        for (let connection = 0; cases < TARGET_CASES / WORKERS; connection++) {
          cases += await runConnection(
            rng,
            `seed ${SEED} worker ${index} connection ${connection}`,
          );
          if (connection % 16 === 15) await checkHealth();
        }
        totals.cases += cases;
      }

      await Promise.all(Array.from({ length: WORKERS }, (_, index) => worker(index)));
      await checkHealth();

      expect(totals.cases).toBeGreaterThanOrEqual(TARGET_CASES);
      expect(healthChecks).toBeGreaterThan(TARGET_CASES / 1000);
      // Every terminal kind ran, and every protocol code was produced.
      expect(Object.keys(totals.kinds).length).toBeGreaterThanOrEqual(20);
      expect(Object.keys(totals.errorCloses).sort()).toEqual(['1002', '1007', '1008', '1009']);
      // One report per error close, none for anything else (abrupt peers, valid closes).
      const errorCount = Object.values(totals.errorCloses).reduce((a, b) => a + b, 0);
      await expect.poll(() => server.hub.stats().active).toBe(1);
      expect(probe.errors.length).toBe(errorCount);
      expect(new Set(probe.errors.map((e) => e.code))).toEqual(
        // Each error code maps to the close code ws sent (1002, 1007, 1008, 1009).
        new Set([
          'WSLANE_PROTOCOL_ERROR',
          'WSLANE_CODEC_DECODE',
          'WSLANE_FRAME_LIMIT',
          'WSLANE_MESSAGE_TOO_BIG',
        ]),
      );
      await healthClient.close();
      await expect.poll(() => server.hub.stats().active).toBe(0);
      expect(server.hub.stats()).toMatchObject({
        created: totals.connections + 1,
        released: totals.connections + 1,
        pending: 0,
      });
      if (process.env.WSLANE_FUZZ_VERBOSE !== undefined) {
        console.info(JSON.stringify({ seed: SEED, ...totals, healthChecks }));
      }
    },
    Math.max(20_000, TARGET_CASES * 2),
  ); // 20 s for the CI default of 10,000 cases
});
