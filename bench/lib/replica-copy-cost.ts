/**
 * The per-copy work of a replica write on both ends, in-process, for two trees side by side
 * (alternating rounds in one process, so that the machine's load hits both alike):
 * - encode: encodeReplicaChange of one record (the master, once per write);
 * - write: ReplicaWriter.write with commit level all, one replica, over calls that confirm at
 *   once (the master's bookkeeping per write: encode, the call, its promises);
 * - decode: decodeReplicaChange (the replica, once per copy);
 * - apply: Kernel.applyCopy of a newer copy of a stored record (memory namespace, a listener
 *   that reads no bins, as a cluster's migration bookkeeping is);
 * - serve: the replica.write handler (decode + apply + its answer), what a replica runs per copy;
 * - fill: a migration page of 5,000 records decoded and applied (per record).
 * Prints ns per operation (median of rounds) per tree.
 *
 * `npx node bench/lib/replica-copy-cost.ts <treeA> [treeB]` — e.g. an export of main and this
 * checkout. OPS (default 100,000) per piece and round, ROUNDS (default 7), PAYLOAD bytes (default 100),
 * ONLY (pieces to measure, comma-separated; default all).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

type M = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- modules of another tree
const OPS = Number(process.env['OPS'] ?? 100_000);
const ROUNDS = Number(process.env['ROUNDS'] ?? 7);
const PAYLOAD = Number(process.env['PAYLOAD'] ?? 100);
const RECORDS = 10_000;

interface Tree { name: string; m: M; kernel: M; handler: (from: bigint, body: Uint8Array) => Promise<Uint8Array>; writer: M }

async function load(path: string): Promise<Tree> {
  const tree = resolve(path);
  const from = async (p: string): Promise<M> => import(pathToFileURL(resolve(tree, p)).href) as Promise<M>;
  const m: M = {
    ...(await from('core/replication/replica-writes.ts')),
    ...(await from('core/replication/record-page.ts')),
    ...(await from('core/model/index.ts')),
  };
  const { Kernel } = await from('core/transaction/kernel.ts');
  const { Namespace } = await from('core/storage/namespace.ts');
  const { GuardedEngine } = await from('core/storage/guarded-engine.ts');
  const { singleNodeRouter } = await from('core/transaction/routing.ts');
  const { memoryStorage } = await from('plugins/storage-memory/index.ts');
  const { silentLogger, systemClock } = await from('core/plugin-api/index.ts');
  const cfg = { name: 'test', storage: 'storage-memory', ...m['NAMESPACE_DEFAULTS'] };
  const engine = await memoryStorage().create({ nodeId: 1n, logger: silentLogger, clock: systemClock, signal: new AbortController().signal }, cfg, {});
  const kernel = new Kernel({ namespaces: [new Namespace(cfg, new GuardedEngine(engine, 'storage-memory'))], clock: systemClock, router: singleNodeRouter(1n), logger: silentLogger });
  let touched = 0;
  // like a cluster's migration bookkeeping: reads no bins (a tree that knows readsBins reads metadata alone)
  kernel.addListener({ onChange: (c: M) => { if (c['cause'] === 'write') touched += c['digest'][0] === 256 ? 1 : 0; }, readsBins: () => false });
  let handler: Tree['handler'] | undefined;
  const empty = new Uint8Array(0);
  // calls the replica confirms at once (in a microtask), made as FabricCalls makes them: call() is a promise over callThen
  const callThen = (_n: bigint, _k: string, _b: Uint8Array, _o: unknown, done: (e: unknown, a: Uint8Array) => void): void => queueMicrotask(() => done(undefined, empty));
  const calls = {
    localNode: 1n, callThen,
    call: (n: bigint, k: string, b: Uint8Array, o: unknown) => new Promise((resolve, reject) => callThen(n, k, b, o, (e, a) => (e === undefined ? resolve(a) : reject(e)))),
    serve: (_k: string, h: Tree['handler']) => { handler = h; },
  };
  const writer = new m['ReplicaWriter']({ calls, clock: systemClock, replicasOf: () => [2n] });
  writer.serve((ns: string, change: M) => kernel.applyCopy(ns, change));
  return { name: path, m, kernel, handler: handler as Tree['handler'], writer };
}

const trees = await Promise.all(process.argv.slice(2).map(load));
if (trees.length === 0) throw new Error('name one or two trees');
const model = trees[0]?.m as M;
const records: M[] = [];
for (let i = 0; i < RECORDS; i++) {
  const digest = model['computeDigest']('s', `key-${i}`);
  records.push({ digest, partition: model['partitionOf'](digest), set: 's', meta: { generation: 1, voidTime: 0, lastUpdateMs: 1_700_000_000_000 + i }, key: model['encodeUserKey'](`key-${i}`), payload: new Uint8Array(PAYLOAD).fill(i & 255), tombstone: false });
}
let gen = 1;
const next = (i: number): M => {
  const r = records[i % RECORDS] as M;
  if (i % RECORDS === 0) gen++;
  return { ...r, meta: { generation: gen, voidTime: 0, lastUpdateMs: r['meta'].lastUpdateMs + gen } };
};

async function time(run: (i: number) => unknown, ops = OPS): Promise<number> {
  const t0 = process.hrtime.bigint();
  const pending: unknown[] = [];
  for (let i = 0; i < ops; i++) {
    const out = run(i);
    if (out instanceof Promise) pending.push(out);
    if (pending.length >= 256) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  return Number(process.hrtime.bigint() - t0) / ops;
}

const allPieces: Record<string, (t: Tree) => Promise<number>> = {
  encode: (t) => time((i) => t.m['encodeReplicaChange']('test', { kind: 'put', record: records[i % RECORDS] })),
  write: (t) => time((i) => t.writer.write('test', { kind: 'put', record: records[i % RECORDS] }, 'all')),
  decode: (t) => {
    const bodies = records.slice(0, 1000).map((r) => t.m['encodeReplicaChange']('test', { kind: 'put', record: r }));
    return time((i) => t.m['decodeReplicaChange'](bodies[i % 1000]));
  },
  apply: async (t) => {
    const copies = Array.from({ length: OPS }, (_, i) => next(i));
    return time((i) => t.kernel.applyCopy('test', { kind: 'put', record: copies[i] }));
  },
  serve: async (t) => {
    const bodies = Array.from({ length: OPS }, (_, i) => t.m['encodeReplicaChange']('test', { kind: 'put', record: next(i) }));
    return time((i) => t.handler(2n, bodies[i] as Uint8Array));
  },
  fill: async (t) => {
    const pages = Array.from({ length: Math.ceil(OPS / 5000) }, (_, p) => t.m['encodeRecordPage']({ records: Array.from({ length: 5000 }, (_, j) => next(p * 5000 + j)), done: false }));
    return (await time(async (p) => {
      const page = t.m['decodeRecordPage'](pages[p]);
      await Promise.all(page.records.map((r: M) => t.kernel.applyCopy('test', { kind: 'put', record: r })));
    }, pages.length)) / 5000;
  },
};

/** ONLY=serve,apply measures those pieces alone (e.g. under a profiler). */
const only = process.env['ONLY']?.split(',');
const pieces = Object.fromEntries(Object.entries(allPieces).filter(([name]) => only === undefined || only.includes(name)));

const results = new Map<string, number[]>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [piece, run] of Object.entries(pieces)) {
    for (const t of round % 2 === 0 ? trees : [...trees].reverse()) {
      const ns = await run(t);
      const key = `${piece}\0${t.name}`;
      results.set(key, [...(results.get(key) ?? []), ns]);
    }
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
console.log(`ns per operation, median of ${ROUNDS} rounds (first round included), payload ${PAYLOAD} bytes`);
console.log(['piece', ...trees.map((t) => t.name)].join('\t'));
for (const piece of Object.keys(pieces)) {
  console.log([piece, ...trees.map((t) => median(results.get(`${piece}\0${t.name}`) as number[]).toFixed(0))].join('\t'));
}
