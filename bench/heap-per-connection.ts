import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay, setImmediate as nextTurn } from 'node:timers/promises';
import { writeHeapSnapshot } from 'node:v8';
import { startInProcessTarget } from './harness/in-process-target.js';
import { FULL_PROFILE } from './harness/profile.js';
import { isTargetName, TARGET_NAMES } from './harness/target-list.js';

// `npm run bench:heap -- <target> [connections] [--used]`: what one idle connection keeps on the
// server's heap, by kind of object (`--used`: once each has traded one message with /echo). Two
// heap snapshots of the target, after a small warm-up round and with the connections open, are
// diffed and divided by the count. Rows of compiled code and pooled HTTP parsers are noise.

/** As quiet as idle-mem lets its connections be before measuring (quiet lanes are dropped by then). */
const SETTLE_MS = FULL_PROFILE.idleMem.settleMs;
const EXCHANGE_BYTES = 64;

const ROWS = 40;
/** Rows smaller than this many bytes per connection are left out of the table. */
const MIN_BYTES = 4;

const USED = process.argv.includes('--used');
const args = process.argv.slice(2).filter((arg) => arg !== '--used');
await measure(args[0], Number(args[1] ?? 2000));

async function measure(name: string | undefined, connections: number): Promise<void> {
  if (name === undefined || !isTargetName(name)) {
    throw new Error(
      `usage: npm run bench:heap -- <${TARGET_NAMES.join('|')}> [connections] [--used]`,
    );
  }
  const { target, clients, open } = await startInProcessTarget(name);
  // Both snapshots are written before either is read: a parsed one would sit in the second.
  const before = writeSnapshot('before');
  await open(connections);
  if (USED) await clients.all('exchangeOnce', { bytes: EXCHANGE_BYTES });
  while (target.openConnections() < connections) await nextTurn();
  // What the last handshakes and messages left in flight (timers, sockets' write requests) settles.
  await delay(SETTLE_MS);
  const after = writeSnapshot('after');
  await clients.all('closeAll', null);
  await clients.stop();
  printDiff(await tallyFile(before), await tallyFile(after), connections);
  process.exit(0);
}

interface Tally {
  count: number;
  bytes: number;
}

/** Writes a heap snapshot (V8 collects garbage first); returns its file. */
function writeSnapshot(label: string): string {
  const file = join(tmpdir(), `wslane-heap-${process.pid}-${label}.heapsnapshot`);
  writeHeapSnapshot(file);
  return file;
}

/** Reads a snapshot file, deletes it, and tallies its objects by kind. */
async function tallyFile(file: string): Promise<Map<string, Tally>> {
  const data = JSON.parse(await readFile(file, 'utf8')) as HeapSnapshot;
  await rm(file);
  return tallyByKind(data);
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Objects grouped by type and constructor; strings and numbers as one kind each. */
function tallyByKind({ snapshot, nodes, strings }: HeapSnapshot): Map<string, Tally> {
  const fields = snapshot.meta.node_fields;
  const types = snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const tallies = new Map<string, Tally>();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt] as number] as string;
    const name =
      type.includes('string') || type === 'number' ? '' : strings[nodes[i + nameAt] as number];
    const kind = `${type} ${(name ?? '').slice(0, 60)}`.trim();
    const tally = tallies.get(kind) ?? { count: 0, bytes: 0 };
    tally.count++;
    tally.bytes += nodes[i + sizeAt] as number;
    tallies.set(kind, tally);
  }
  return tallies;
}

function printDiff(
  before: Map<string, Tally>,
  after: Map<string, Tally>,
  connections: number,
): void {
  let total = 0;
  const rows: { kind: string; count: number; bytes: number }[] = [];
  for (const [kind, tally] of after) {
    const earlier = before.get(kind) ?? { count: 0, bytes: 0 };
    const bytes = (tally.bytes - earlier.bytes) / connections;
    total += bytes;
    if (Math.abs(bytes) >= MIN_BYTES) {
      rows.push({ kind, count: (tally.count - earlier.count) / connections, bytes });
    }
  }
  rows.sort((a, b) => b.bytes - a.bytes);
  const kind = USED ? 'idle connections that traded one message' : 'idle connections';
  process.stdout.write(`heap per connection, ${connections} ${kind}\n`);
  process.stdout.write('   bytes  objects  kind\n');
  for (const row of rows.slice(0, ROWS)) {
    const bytes = row.bytes.toFixed(1).padStart(8);
    process.stdout.write(`${bytes}  ${row.count.toFixed(2).padStart(7)}  ${row.kind}\n`);
  }
  process.stdout.write(`   total ${total.toFixed(0)} B per connection\n`);
}
