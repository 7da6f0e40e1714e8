/**
 * CPU per request of the Aerospike protocol front end in one process, without sockets: the
 * same put frames the load generator sends, handed to the front end's frame handler by 64
 * concurrent callers (one request in flight each, as the generator's connections), against
 * the kernel's put alone with the same bins. The difference is what the front end itself
 * (parse, key, policy, bins, answer, timeout bookkeeping, promise hops) costs a request, apart
 * from the sockets; min and median of ROUNDS rounds.
 * With BASE=<another checkout> the same rows run against that checkout's code too, in the same
 * process, round by round interleaved (an A/B that the machine's load drifts hit alike).
 * Run: node --no-node-snapshot bench/lib/as-front-end-costs.ts [rows…]   rows: kernel-put fe-put fe-get
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { asRequest } from './aerospike-load.ts';
import { Info1, Info2, MessageType, Op, PROTO_HEADER_BYTES } from '../../core/server/aerospike/protocol.ts';

const rows = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['kernel-put', 'fe-put', 'fe-get'];
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
const reply: Reply = { closed: false, send: (f: Buffer) => { if (f[PROTO_HEADER_BYTES + 5] !== 0) failed++; return Promise.resolve(); } };

/** One checkout's kernel and front end, loaded from its own files. */
async function setup(root: string): Promise<Record<string, (i: number) => Promise<unknown>>> {
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
  const clock = { now: () => Date.now(), setTimeout, clearTimeout } as unknown as import('../../core/plugin-api/index.ts').Clock;
  const cfg = { name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS };
  const storage = await memoryStorage().create({ nodeId: 1n, logger: silentLogger, clock, signal: new AbortController().signal }, cfg, {});
  const kernel = new Kernel({ namespaces: [new Namespace(cfg, new GuardedEngine(storage, 'storage-memory'))], clock, router: singleNodeRouter(1n), logger: silentLogger });
  const fe = new AerospikeFrontEnd({
    kernel, services: new ServiceLocator(), nodeId: 1n, startedAtMs: Date.now(), version: 'bench', address: () => '127.0.0.1:0',
    clusterName: () => undefined, peers: () => [], logger: silentLogger,
  });
  // the frame handler (private: what a connection calls for each whole frame)
  const frame = (fe as unknown as { frame: (type: number, body: Buffer, reply: Reply, conn: unknown, access: unknown) => Promise<void> }).frame.bind(fe);
  const keys = Array.from({ length: KEYS }, (_, i) => kernel.key('test', 'q', key(i)));
  const policy = writePolicy({});
  return {
    'kernel-put': (i) => kernel.put(keys[i % KEYS]!, { count: BigInt(i) }, policy),
    'fe-put': (i) => frame(MessageType.MESSAGE, putFrames[i % KEYS]!, reply, undefined, undefined),
    'fe-get': (i) => frame(MessageType.MESSAGE, getFrames[i % KEYS]!, reply, undefined, undefined),
  };
}

async function round(fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const c0 = process.cpuUsage();
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < CALLS) await fn(next++);
  }));
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / CALLS;
}

const sides: Array<[string, Record<string, (i: number) => Promise<unknown>>]> = [['this', await setup(HERE)]];
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
