/**
 * CPU per request of the Aerospike protocol front end in one process, without sockets: the
 * same put frames the load generator sends, handed to the front end's frame handler by 64
 * concurrent callers (one request in flight each, as the generator's connections), against
 * the kernel's put alone with the same bins. The difference is what the front end itself
 * (parse, key, policy, bins, answer, timeout bookkeeping, promise hops) costs a request, apart
 * from the sockets; min and median of ROUNDS rounds.
 * With BASE=<another checkout> the same rows run against that checkout's code too, in the same
 * process, round by round interleaved (an A/B that the machine's load drifts hit alike).
 * The rf2 rows run the same puts on a kernel that writes every change to a replica (a stand-in for
 * the ReplicaWriter: its confirmation comes a turn later, all of a turn's copies at once, as a
 * fabric reply does), so they measure what the master's RF 2 write costs apart from sending the
 * copy: the lock held across the wait, the promises and the answer written after it.
 * Run: node --no-node-snapshot bench/lib/as-front-end-costs.ts [rows…]   rows: kernel-put fe-put fe-get kernel-put-rf2 fe-put-rf2
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { asRequest } from './aerospike-load.ts';
import { Info1, Info2, MessageType, Op, PROTO_HEADER_BYTES } from '../../core/server/aerospike/protocol.ts';

const rows = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['kernel-put', 'fe-put', 'fe-get', 'kernel-put-rf2', 'fe-put-rf2'];
const ROUNDS = Number(process.env['ROUNDS'] ?? 15);
const CALLS = Number(process.env['CALLS'] ?? 20_000);
const IN_FLIGHT = 64;
const KEYS = 1000;
const HERE = fileURLToPath(new URL('../..', import.meta.url));

const key = (i: number): string => `k${i}`;
const putFrames = Array.from({ length: KEYS }, (_, i) => asRequest({ info2: Info2.WRITE, namespace: 'test', set: 'q', key: key(i), ops: [{ name: 'count', value: BigInt(i), op: Op.WRITE }] }).subarray(PROTO_HEADER_BYTES));
const getFrames = Array.from({ length: KEYS }, (_, i) => asRequest({ info1: Info1.READ | Info1.GET_ALL, namespace: 'test', set: 'q', key: key(i) }).subarray(PROTO_HEADER_BYTES));

interface Reply { readonly closed: boolean; send(f: Buffer): Promise<void> }
let failed = 0;

/** Replica confirmations waiting for the next turn (all of a turn's copies confirmed at once, as one fabric reply). */
let confirmations: Array<() => void> = [];
function confirmNextTurn(): Promise<void> {
  if (confirmations.length === 0) {
    setImmediate(() => {
      const now = confirmations;
      confirmations = [];
      for (const c of now) c();
    });
  }
  return new Promise<void>((resolve) => confirmations.push(resolve));
}

/** One checkout's kernel and front end, loaded from its own files. */
async function setup(root: string): Promise<Record<string, (i: number) => Ended>> {
  const load = async <T>(p: string): Promise<T> => await import(pathToFileURL(join(root, p)).href) as T;
  const { Kernel } = await load<typeof import('../../core/transaction/kernel.ts')>('core/transaction/kernel.ts');
  const { Namespace } = await load<typeof import('../../core/storage/namespace.ts')>('core/storage/namespace.ts');
  const { GuardedEngine } = await load<typeof import('../../core/storage/guarded-engine.ts')>('core/storage/guarded-engine.ts');
  const { singleNodeRouter } = await load<typeof import('../../core/transaction/routing.ts')>('core/transaction/routing.ts');
  const { memoryStorage } = await load<typeof import('../../plugins/storage-memory/index.ts')>('plugins/storage-memory/index.ts');
  const { silentLogger } = await load<typeof import('../../core/plugin-api/index.ts')>('core/plugin-api/index.ts');
  const { NAMESPACE_DEFAULTS } = await load<typeof import('../../core/model/index.ts')>('core/model/index.ts');
  const { ServiceLocator } = await load<typeof import('../../core/services/locator.ts')>('core/services/locator.ts');
  const { AerospikeFrontEnd } = await load<typeof import('../../core/server/aerospike/front-end.ts')>('core/server/aerospike/front-end.ts');
  const { writePolicy } = await load<typeof import('../../core/transaction/policy.ts')>('core/transaction/policy.ts');
  const { SENT } = await load<typeof import('../../core/server/aerospike/connection.ts')>('core/server/aerospike/connection.ts');
  // the socket took the answer at once (what a connection's send says then)
  const reply: Reply = { closed: false, send: (f: Buffer) => { if (f[PROTO_HEADER_BYTES + 5] !== 0) failed++; return SENT; } };
  const clock = { now: () => Date.now(), setTimeout, clearTimeout } as unknown as import('../../core/plugin-api/index.ts').Clock;
  const cfg = { name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS };
  const frontEnd = async (replicated: boolean) => {
    const storage = await memoryStorage().create({ nodeId: 1n, logger: silentLogger, clock, signal: new AbortController().signal }, cfg, {});
    const kernel = new Kernel({ namespaces: [new Namespace(cfg, new GuardedEngine(storage, 'storage-memory'))], clock, router: singleNodeRouter(1n), logger: silentLogger });
    if (replicated) {
      // a cluster kernel that masters every partition: nothing is forwarded, every change goes to a replica
      type Routing = Parameters<typeof kernel.useRouting>;
      const replicas = { write: async (): Promise<void> => { await confirmNextTurn(); } };
      kernel.useRouting(singleNodeRouter(1n), { remoteMaster: () => undefined } as unknown as Routing[1], replicas as unknown as Routing[2]);
    }
    const fe = new AerospikeFrontEnd({
      kernel, services: new ServiceLocator(), nodeId: 1n, startedAtMs: Date.now(), version: 'bench', address: () => '127.0.0.1:0',
      clusterName: () => undefined, peers: () => [], logger: silentLogger,
    });
    // the frame handler (private: what a connection calls for each whole frame)
    const frame = (fe as unknown as { frame: (type: number, body: Buffer, reply: Reply, conn: unknown, access: unknown) => Ended }).frame.bind(fe);
    return { kernel, frame, keys: Array.from({ length: KEYS }, (_, i) => kernel.key('test', 'q', key(i))) };
  };
  const one = await frontEnd(false);
  const two = await frontEnd(true);
  const policy = writePolicy({});
  return {
    'kernel-put': (i) => one.kernel.put(one.keys[i % KEYS]!, { count: BigInt(i) }, policy),
    'fe-put': (i) => one.frame(MessageType.MESSAGE, putFrames[i % KEYS]!, reply, undefined, undefined),
    'fe-get': (i) => one.frame(MessageType.MESSAGE, getFrames[i % KEYS]!, reply, undefined, undefined),
    'kernel-put-rf2': (i) => two.kernel.put(two.keys[i % KEYS]!, { count: BigInt(i) }, policy),
    'fe-put-rf2': (i) => two.frame(MessageType.MESSAGE, putFrames[i % KEYS]!, reply, undefined, undefined),
  };
}

/** A frame handler's end: at once (undefined), a promise, or a callback (what the connection takes). */
type Ended = Promise<unknown> | { whenAnswered(answered: () => void, broken: (err: unknown) => void): void } | undefined;

/** IN_FLIGHT callers, each starting its next call when the last ended — told as a connection is told. */
function round(fn: (i: number) => Ended): Promise<number> {
  return new Promise((resolve, reject) => {
    let next = 0;
    let active = IN_FLIGHT;
    const c0 = process.cpuUsage();
    const go = (): void => {
      while (next < CALLS) {
        const d = fn(next++);
        if (d === undefined) continue;
        if ('whenAnswered' in d) d.whenAnswered(go, reject);
        else d.then(go, reject);
        return;
      }
      if (--active === 0) {
        const c = process.cpuUsage(c0);
        resolve((c.user + c.system) / CALLS);
      }
    };
    for (let k = 0; k < IN_FLIGHT; k++) go();
  });
}

const sides: Array<[string, Record<string, (i: number) => Ended>]> = [['this', await setup(HERE)]];
if (process.env['BASE'] !== undefined) sides.unshift(['base', await setup(process.env['BASE'])]);
for (const [, s] of sides) for (const r of rows) { await round(s[r]!); await round(s[r]!); } // warm-up (and the records exist for the gets)
const results = new Map<string, number[]>();
for (let i = 0; i < ROUNDS; i++) {
  for (const r of rows) {
    // the order alternates round by round: whichever runs second gets a warmer cache
    for (const [side, s] of i % 2 === 0 ? sides : [...sides].reverse()) {
      const name = `${r} ${side}`;
      if (!results.has(name)) results.set(name, []);
      results.get(name)?.push(await round(s[r]!));
    }
  }
}
for (const [r, us] of results) {
  us.sort((a, b) => a - b);
  console.log(`${r.padEnd(16)} min ${us[0]?.toFixed(2)} µs/request, quartile ${us[Math.floor(us.length / 4)]?.toFixed(2)}, median ${us[Math.floor(us.length / 2)]?.toFixed(2)} (${ROUNDS} rounds × ${CALLS.toLocaleString('en-US')})`);
}
if (failed > 0) console.log(`${failed} answers were errors`);
