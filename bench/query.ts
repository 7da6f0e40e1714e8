/**
 * Secondary-index and query benchmarks on the in-process kernel (memory engine):
 * index build rate; equality and range query time as the matches grow from 10 to 100,000
 * on 1,000,000 records (and the same queries on 100,000 records, to show that time follows
 * the matches, not the namespace); a filtered scan's records/s against a plain scan's.
 *
 *   npm run bench -- query        (BENCH_RECORDS=1000000 by default)
 */
import { Kernel } from '../core/transaction/kernel.ts';
import { Namespace } from '../core/storage/namespace.ts';
import { GuardedEngine } from '../core/storage/guarded-engine.ts';
import { singleNodeRouter } from '../core/transaction/routing.ts';
import { memoryStorage } from '../plugins/storage-memory/index.ts';
import { silentLogger, systemClock } from '../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS, type NamespaceConfig } from '../core/model/index.ts';
import { startQuerySubsystem, type QuerySubsystem } from '../core/query/query-engine-service.ts';
import { and, arith, bin, cmp, lit, regex, type Expr } from '../core/query/expr/index.ts';
import type { QuerySpec } from '../core/query/planner.ts';

const RECORDS = Number(process.env['BENCH_RECORDS'] ?? 1_000_000);
const MATCHES = [10, 100, 1_000, 10_000, 100_000].filter((m) => m <= RECORDS / 10);

async function world(n: number): Promise<{ kernel: Kernel; q: QuerySubsystem; loadMs: number }> {
  const cfg = { name: 'bench', storage: 'storage-memory', ...NAMESPACE_DEFAULTS } as unknown as NamespaceConfig;
  const engine = await memoryStorage().create({ nodeId: 1n, logger: silentLogger, clock: systemClock, signal: new AbortController().signal }, cfg, {});
  const kernel = new Kernel({ namespaces: [new Namespace(cfg, new GuardedEngine(engine, 'storage-memory'))], clock: systemClock, router: singleNodeRouter(1n), logger: silentLogger });
  const t0 = performance.now();
  const batch: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const bins: Record<string, bigint | string> = { r: BigInt(i), name: `user${i}`, a: BigInt(i % 1000) };
    // e<m>: each value is shared by exactly m records
    for (const m of MATCHES) bins[`e${m}`] = BigInt(i % (n / m));
    batch.push(kernel.put(kernel.key('bench', 's', BigInt(i)), bins));
    if (batch.length >= 512) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  const loadMs = performance.now() - t0;
  const q = await startQuerySubsystem(kernel);
  return { kernel, q, loadMs };
}

async function timeQuery(q: QuerySubsystem, spec: QuerySpec, expect: number): Promise<{ ms: number; plan: string }> {
  const plan = await q.engine.explain(spec);
  let best = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    let n = 0;
    for await (const _row of q.engine.query(spec)) n++;
    const ms = performance.now() - t0;
    if (n !== expect) throw new Error(`expected ${expect} rows, got ${n}`);
    best = Math.min(best, ms);
  }
  return { ms: best, plan: plan.access === 'scan' ? 'scan' : `${plan.index}` };
}

async function scanRate(q: QuerySubsystem, where: Expr | undefined): Promise<{ perSec: number; rows: number }> {
  const t0 = performance.now();
  let rows = 0;
  for await (const _r of q.engine.query({ namespace: 'bench', set: 's', ...(where === undefined ? {} : { where }) })) rows++;
  return { perSec: RECORDS / ((performance.now() - t0) / 1000), rows };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const out: string[] = [];
const log = (s: string): void => { out.push(s); console.error(s); };

const main = await world(RECORDS);
log(`## Queries and secondary indexes (${fmt(RECORDS)} records, in-process kernel, memory engine)\n`);
log(`Load: ${fmt(RECORDS / (main.loadMs / 1000))} puts/s.\n`);

log('### Index build (background, from a scan of existing records)\n');
log('| index | entries | build time | records/s |');
log('|---|---:|---:|---:|');
for (const [name, b] of [['r_idx', 'r'], ...MATCHES.map((m) => [`e${m}_idx`, `e${m}`])] as Array<[string, string]>) {
  const t0 = performance.now();
  await main.q.indexes.create({ namespace: 'bench', set: 's', name, bin: b, type: 'NUMERIC', collection: 'DEFAULT' });
  await main.q.indexes.whenReady('bench', name);
  const ms = performance.now() - t0;
  log(`| ${name} (NUMERIC) | ${fmt(main.q.indexes.stat('bench', name).entries)} | ${(ms / 1000).toFixed(2)} s | ${fmt(RECORDS / (ms / 1000))} |`);
}

const small = RECORDS >= 1_000_000 ? await world(RECORDS / 10) : undefined;
if (small !== undefined) {
  for (const m of MATCHES.filter((x) => x <= RECORDS / 100)) {
    await small.q.indexes.create({ namespace: 'bench', set: 's', name: `e${m}_idx`, bin: `e${m}`, type: 'NUMERIC', collection: 'DEFAULT' });
    await small.q.indexes.whenReady('bench', `e${m}_idx`);
  }
  await small.q.indexes.create({ namespace: 'bench', set: 's', name: 'r_idx', bin: 'r', type: 'NUMERIC', collection: 'DEFAULT' });
  await small.q.indexes.whenReady('bench', 'r_idx');
}

log('\n### Query time by number of matches (full records returned, best of 3)\n');
log(`| matches | equality, ${fmt(RECORDS)} records | range, ${fmt(RECORDS)} records |${small ? ` equality, ${fmt(RECORDS / 10)} records | range, ${fmt(RECORDS / 10)} records |` : ''} µs per match (equality, ${fmt(RECORDS)}) |`);
log(`|---:|---:|---:|${small ? '---:|---:|' : ''}---:|`);
for (const m of MATCHES) {
  const eq = await timeQuery(main.q, { namespace: 'bench', set: 's', where: cmp('=', bin(`e${m}`), lit(7n)) }, m);
  const lo = BigInt(Math.floor(RECORDS / 3));
  const rg = await timeQuery(main.q, { namespace: 'bench', set: 's', where: and(cmp('>=', bin('r'), lit(lo)), cmp('<', bin('r'), lit(lo + BigInt(m)))) }, m);
  let smallCols = '';
  if (small) {
    if (m <= RECORDS / 100) {
      const se = await timeQuery(small.q, { namespace: 'bench', set: 's', where: cmp('=', bin(`e${m}`), lit(7n)) }, m);
      const sr = await timeQuery(small.q, { namespace: 'bench', set: 's', where: and(cmp('>=', bin('r'), lit(1000n)), cmp('<', bin('r'), lit(1000n + BigInt(m)))) }, m);
      smallCols = ` ${se.ms.toFixed(2)} ms | ${sr.ms.toFixed(2)} ms |`;
    } else smallCols = ' – | – |';
  }
  if (eq.plan === 'scan' || rg.plan === 'scan') log(`<!-- plan fell back to a scan: ${eq.plan} / ${rg.plan} -->`);
  log(`| ${fmt(m)} | ${eq.ms.toFixed(2)} ms | ${rg.ms.toFixed(2)} ms |${smallCols} ${((eq.ms * 1000) / m).toFixed(1)} |`);
}

log('\n### Scans (whole set, records examined per second)\n');
const plain = await scanRate(main.q, undefined);
const filterExpr = and(cmp('=', arith('%', bin('a'), lit(100n)), lit(7n)), regex(bin('name'), '7$'));
const filtered = await scanRate(main.q, filterExpr);
const unindexedEq = await scanRate(main.q, cmp('=', bin('a'), lit(5n)));
log('| scan | rows returned | records/s |');
log('|---|---:|---:|');
log(`| plain (no filter) | ${fmt(plain.rows)} | ${fmt(plain.perSec)} |`);
log(`| filtered: a % 100 = 7 AND name REGEXP '7$' | ${fmt(filtered.rows)} | ${fmt(filtered.perSec)} |`);
log(`| filtered: a = 5 (no index on a) | ${fmt(unindexedEq.rows)} | ${fmt(unindexedEq.perSec)} |`);
console.log(out.join('\n'));
