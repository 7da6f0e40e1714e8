import { strict as assert } from 'node:assert';
import { globalKeyReplication } from '../../plugins/replication-global-key/index.ts';
import { fnv1a64, jenkinsOaat64, type ClusterView, type NodeId } from '../../core/plugin-api/index.ts';
import { seededRandom } from '../../core/cluster/clock.ts';
import { changedRows, randomView, replicationStrategyKit, testContext, without } from 'slipstream/testing';

replicationStrategyKit({ plugin: globalKeyReplication() });

// An independent, deliberately naive BigInt re-implementation of partition_balance.c's
// fill_global_tables, written from the reference text (§2.2) for comparison.
const M = (1n << 64n) - 1n;
const le = (v: bigint, n: number): number[] => Array.from({ length: n }, (_, i) => Number((v >> BigInt(8 * i)) & 255n));
function naiveFnv(bytes: number[]): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) { h ^= BigInt(b); h = (h * 0x100000001b3n) & M; }
  return h;
}
function naiveJenkins(bytes: number[]): bigint {
  let h = 0n;
  for (const b of bytes) { h = (h + BigInt(b)) & M; h = (h + (h << 10n)) & M; h ^= h >> 6n; }
  h = (h + (h << 3n)) & M; h ^= h >> 11n; h = (h + (h << 15n)) & M;
  return h;
}
function naiveTable(succ: NodeId[], sz: number, rf: number): NodeId[][] {
  const hn = succ.map((n) => naiveFnv(le(n, 8)));
  const out: NodeId[][] = [];
  for (let pid = 0; pid < 4096; pid++) {
    const hp = naiveFnv(le(BigInt(pid), 4));
    const v = hn.map((h, i) => (naiveJenkins([...le(h, 8), ...le(hp, 8)]) & (M ^ BigInt(sz - 1))) + BigInt(i));
    v.sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
    out.push(v.slice(0, rf).map((x) => succ[Number(x & BigInt(sz - 1))] as NodeId));
  }
  return out;
}

const view = (ids: bigint[]): ClusterView => ({
  clusterKey: 1n,
  succession: [...ids].sort((a, b) => (a > b ? -1 : 1)).map((id) => ({ id, rackId: 0, zoneId: 0 })),
});

describe('plugins/replication-global-key', () => {
  it('hashes: FNV-1a 64 standard vectors; Jenkins OAAT 64 agrees with the naive version', () => {
    assert.equal(fnv1a64(new Uint8Array()), 0xcbf29ce484222325n);
    assert.equal(fnv1a64(new TextEncoder().encode('a')), 0xaf63dc4c8601ec8cn);
    assert.equal(fnv1a64(new TextEncoder().encode('foobar')), 0x85944171f73967e8n);
    const rand = seededRandom(3);
    for (let i = 0; i < 20; i++) {
      const bytes = Array.from({ length: 1 + i }, () => Math.floor(rand() * 256));
      assert.equal(jenkinsOaat64(Uint8Array.from(bytes)), naiveJenkins(bytes));
    }
    // hand-derived: one byte 0x01 → h=1; h+=h<<10 → 1025; h^=h>>6 → 1041; then
    // h+=h<<3 → 9369; h^=h>>11 → 9373; h+=h<<15 → 9373 + 307134464 = 307143837
    assert.equal(jenkinsOaat64(Uint8Array.of(1)), 307143837n);
  });

  it('3 nodes (succession bb9030011ac4202, bb9020011ac4202, bb9010011ac4202) master 1385 / 1370 / 1341 partitions', () => {
    const ids = [0xbb9030011ac4202n, 0xbb9020011ac4202n, 0xbb9010011ac4202n];
    const s = globalKeyReplication().create(testContext(), { maxClusterSize: 8 });
    const counts = new Map<NodeId, number>();
    for (const row of s.assign(view(ids), 2)) counts.set(row[0] as NodeId, (counts.get(row[0] as NodeId) ?? 0) + 1);
    assert.deepEqual(ids.map((id) => counts.get(id)), [1385, 1370, 1341]);
  });

  for (const sz of [8, 256]) {
    it(`matches the independent re-implementation row for row (AS_CLUSTER_SZ ${sz})`, () => {
      const rand = seededRandom(sz);
      const s = globalKeyReplication().create(testContext(), { maxClusterSize: sz });
      for (const n of [1, 2, 5, 8]) {
        const v = randomView(rand, n);
        const ids = v.succession.map((m) => m.id);
        const rf = Math.min(3, n);
        assert.deepEqual(s.assign(v, rf).map((r) => [...r]), naiveTable(ids, sz, rf), `n=${n}`);
      }
    });
  }

  it('the low-bit overlay decides ties: small ids differing only in low bits still spread', () => {
    const s = globalKeyReplication().create(testContext(), { maxClusterSize: 8 });
    const t = s.assign(view([1n, 2n, 3n]), 3);
    assert.deepEqual(t.map((r) => [...r]), naiveTable([3n, 2n, 1n], 8, 3));
  });

  it('a departing node changes exactly the rows that held it, and rejoining restores the table', () => {
    const rand = seededRandom(7);
    const s = globalKeyReplication().create(testContext(), {});
    const v = randomView(rand, 5);
    const before = s.assign(v, 2);
    const gone = v.succession[1]?.id as NodeId;
    const after = s.assign(without(v, gone), 2);
    assert.equal(changedRows(before, after), before.filter((r) => r.includes(gone)).length);
    // and back: rejoining restores the original table
    assert.deepEqual(s.assign(v, 2), before);
  });

  it('reports masters and replicas per node within a few percent of even for 4 nodes, RF 2', () => {
    const s = globalKeyReplication().create(testContext(), {});
    const v = view([0x40n << 56n, 0x30n << 56n, 0x20n << 56n, 0x10n << 56n]);
    const masters = new Map<NodeId, number>();
    const replicas = new Map<NodeId, number>();
    for (const [m, r] of s.assign(v, 2) as NodeId[][]) {
      masters.set(m as NodeId, (masters.get(m as NodeId) ?? 0) + 1);
      replicas.set(r as NodeId, (replicas.get(r as NodeId) ?? 0) + 1);
    }
    for (const c of [...masters.values(), ...replicas.values()]) assert.ok(Math.abs(c - 1024) < 100, String(c));
  });

  it('refuses a cluster larger than maxClusterSize and bad options', () => {
    const s = globalKeyReplication().create(testContext(), { maxClusterSize: 2 });
    assert.throws(() => s.assign(view([1n, 2n, 3n]), 1), /exceeds maxClusterSize 2/);
    assert.throws(() => globalKeyReplication().create(testContext(), { maxClusterSize: 6 }), /power of two/);
  });
});
