/**
 * Aerospike's standard succession algorithm and the building blocks the built-in replication
 * strategies share. Pure functions, separate from the ReplicationStrategy contract: a plugin
 * may use them, none must (the replication example in examples/plugins uses its own hashing).
 */
import type { NodeId } from './context.ts';
import type { ClusterMember, ReplicationStrategy } from './replication-strategy.ts';
import { DbError } from '../errors/index.ts';
import { Type } from '../schema/index.ts';

// ---------------------------------------------------------------------------------------------
// Shared building blocks for strategies (pure functions; plugins may use them, none must).
// Aerospike's standard succession algorithm (as/src/fabric/partition_balance.c,
// fill_global_tables): hashed_node = fnv1a64(le_u64(node)), hashed_pid = fnv1a64(le_u32(pid)),
// v = jenkins_oaat64(le_u64(hashed_node) ‖ le_u64(hashed_pid)), low bits replaced by the
// succession index, sorted descending.

const MASK64 = (1n << 64n) - 1n;

/** FNV-1a 64-bit over `bytes`. */
export function fnv1a64(bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & MASK64;
  return h;
}

/** Little-endian bytes of an unsigned integer. */
export function leBytes(value: bigint, width: number): Uint8Array {
  const out = new Uint8Array(width);
  for (let i = 0; i < width; i++) out[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return out;
}

// Jenkins one-at-a-time 64 on (hi, lo) uint32 halves; BigInt is far too slow for 4096 × n hashes.
let H = 0;
let L = 0;
function addShl(k: number): void {
  // (H,L) += (H,L) << k, for 0 < k < 32
  const sh = ((H << k) | (L >>> (32 - k))) >>> 0;
  const sl = (L << k) >>> 0;
  const lo = L + sl;
  L = lo >>> 0;
  H = (H + sh + (lo > 0xffffffff ? 1 : 0)) >>> 0;
}
function xorShr(k: number): void {
  // (H,L) ^= (H,L) >>> k, for 0 < k < 32
  const rl = ((L >>> k) | (H << (32 - k))) >>> 0;
  const rh = H >>> k;
  L = (L ^ rl) >>> 0;
  H = (H ^ rh) >>> 0;
}

/** Jenkins one-at-a-time 64-bit over 16 bytes given as four little-endian uint32 words; returns [hi, lo]. */
function jenkins16(w0: number, w1: number, w2: number, w3: number): void {
  H = 0;
  L = 0;
  const words = [w0, w1, w2, w3];
  for (const w of words) {
    for (let i = 0; i < 4; i++) {
      const lo = L + ((w >>> (8 * i)) & 0xff);
      L = lo >>> 0;
      if (lo > 0xffffffff) H = (H + 1) >>> 0;
      addShl(10);
      xorShr(6);
    }
  }
  addShl(3);
  xorShr(11);
  addShl(15);
}

/** Jenkins one-at-a-time 64-bit over arbitrary bytes (BigInt; for tests and small inputs). */
export function jenkinsOaat64(bytes: Uint8Array): bigint {
  let h = 0n;
  for (const b of bytes) {
    h = (h + BigInt(b)) & MASK64;
    h = (h + (h << 10n)) & MASK64;
    h ^= h >> 6n;
  }
  h = (h + (h << 3n)) & MASK64;
  h ^= h >> 11n;
  h = (h + (h << 15n)) & MASK64;
  return h;
}

let hashedPids: Uint32Array | undefined;
function pidHashes(): Uint32Array {
  if (hashedPids === undefined) {
    const t = new Uint32Array(4096 * 2);
    for (let pid = 0; pid < 4096; pid++) {
      const h = fnv1a64(leBytes(BigInt(pid), 4));
      t[pid * 2] = Number(h & 0xffffffffn);
      t[pid * 2 + 1] = Number(h >> 32n);
    }
    hashedPids = t;
  }
  return hashedPids;
}

/**
 * Aerospike's standard node sequence: for each of the 4096 partitions, the indexes into
 * `succession` in preference order (all n of them; the first RF are master and replicas).
 * `maxClusterSize` is AS_CLUSTER_SZ (a power of two, 8 in Aerospike CE); its low bits are
 * overlaid with the succession index, which only decides near-ties.
 */
export function standardNodeSequence(succession: readonly NodeId[], maxClusterSize = 256): Uint16Array[] {
  const n = succession.length;
  if (!Number.isInteger(maxClusterSize) || maxClusterSize < 2 || maxClusterSize > 1 << 15 || (maxClusterSize & (maxClusterSize - 1)) !== 0) {
    throw new RangeError(`maxClusterSize must be a power of two between 2 and 32768, got ${maxClusterSize}`);
  }
  if (n > maxClusterSize) throw new RangeError(`cluster of ${n} nodes exceeds maxClusterSize ${maxClusterSize}`);
  const nodeHashes = succession.map((id) => {
    const h = fnv1a64(leBytes(id & MASK64, 8));
    return [Number(h & 0xffffffffn), Number(h >> 32n)] as const;
  });
  const pids = pidHashes();
  const keepMask = ~(maxClusterSize - 1) >>> 0;
  const hi = new Float64Array(n);
  const lo = new Float64Array(n);
  const order: number[] = new Array<number>(n);
  const rows: Uint16Array[] = new Array<Uint16Array>(4096);
  for (let pid = 0; pid < 4096; pid++) {
    const pl = pids[pid * 2] as number;
    const ph = pids[pid * 2 + 1] as number;
    for (let i = 0; i < n; i++) {
      const nh = nodeHashes[i] as readonly [number, number];
      jenkins16(nh[0], nh[1], pl, ph);
      hi[i] = H;
      lo[i] = ((L & keepMask) >>> 0) + i;
      order[i] = i;
    }
    order.sort((a, b) => ((hi[b] as number) - (hi[a] as number)) || ((lo[b] as number) - (lo[a] as number)));
    rows[pid] = Uint16Array.from(order);
  }
  return rows;
}

/**
 * Moves copies so that positions 0..copies-1 of `row` are spread over failure domains.
 * `domains` lists, from coarsest to finest, a key per member (e.g. zone, then rack). For each
 * position r ≥ 1 the first candidate at or after r that adds the most new domains (coarsest
 * first) is rotated into r; the master (position 0) never moves, and the relative order of
 * everything else is kept, so one membership change moves few partitions.
 */
export function spreadRow<T>(row: T[], copies: number, domains: readonly ((m: T) => string | number)[]): T[] {
  const used: Set<string | number>[] = domains.map(() => new Set());
  const take = (m: T): void => domains.forEach((d, k) => (used[k] as Set<string | number>).add(d(m)));
  const score = (m: T): number => {
    let s = 0;
    for (let k = 0; k < domains.length; k++) {
      s = s * 2 + ((used[k] as Set<string | number>).has((domains[k] as (m: T) => string | number)(m)) ? 0 : 1);
    }
    return s;
  };
  if (row.length === 0) return row;
  take(row[0] as T);
  for (let r = 1; r < Math.min(copies, row.length); r++) {
    let best = r;
    let bestScore = score(row[r] as T);
    const max = (1 << domains.length) - 1;
    for (let j = r + 1; j < row.length && bestScore < max; j++) {
      const s = score(row[j] as T);
      if (s > bestScore) {
        best = j;
        bestScore = s;
      }
    }
    if (best !== r) {
      const [m] = row.splice(best, 1);
      row.splice(r, 0, m as T);
    }
    take(row[r] as T);
  }
  return row;
}

/** A failure domain of a member (its rack, its zone, …): copies of a partition avoid sharing one. */
export type FailureDomain = (m: ClusterMember) => string | number;

const POWERS_OF_TWO = Array.from({ length: 15 }, (_, i) => 2 ** (i + 1));

/** The options of `successionStrategy`: `maxClusterSize`, a power of two from 2 to 32768 (default 256). */
export const successionOptionsSchema = Type.Object({
  maxClusterSize: Type.Optional(Type.Integer({
    enum: POWERS_OF_TWO, default: 256,
    description: "AS_CLUSTER_SZ: largest cluster the placement supports (a power of two; Aerospike CE uses 8)",
    hint: 'Set maxClusterSize to 8 (Aerospike CE), 256 (the default) or another power of two',
  })),
}, { additionalProperties: false, title: 'replication strategy' });

/**
 * A complete strategy on the standard succession order, as the built-in plugins use it:
 * validates the replication factor and the cluster size against `maxClusterSize` (option,
 * a power of two, default 256), caches the node sequences per membership, and spreads each
 * row's copies across `domains` (none: Aerospike's plain standard placement).
 */
export function successionStrategy(name: string, options: Readonly<Record<string, unknown>>, domains: readonly FailureDomain[] = []): ReplicationStrategy {
  const maxClusterSize = options['maxClusterSize'] ?? 256;
  if (typeof maxClusterSize !== 'number' || !Number.isInteger(maxClusterSize) || maxClusterSize < 2 || maxClusterSize > 32768 || (maxClusterSize & (maxClusterSize - 1)) !== 0) {
    throw new DbError('PARAMETER', `${name}: maxClusterSize must be a power of two between 2 and 32768, got ${JSON.stringify(maxClusterSize)}`, {
      hint: 'Set maxClusterSize to 8 (Aerospike CE), 256 (the default) or another power of two',
    });
  }
  let lastKey = '';
  let lastSeq: Uint16Array[] = [];
  return {
    assign(view, replicationFactor) {
      if (!Number.isInteger(replicationFactor) || replicationFactor < 1) {
        throw new DbError('PARAMETER', `replication factor must be a positive integer, got ${replicationFactor}`, {
          hint: 'Set the namespace replication factor to 1 or more',
        });
      }
      const members = view.succession;
      if (members.length > maxClusterSize) {
        throw new DbError('PARAMETER', `cluster of ${members.length} nodes exceeds maxClusterSize ${maxClusterSize}`, {
          hint: 'Raise the replication strategy option maxClusterSize',
        });
      }
      const key = members.map((m) => m.id.toString(16)).join(',');
      if (key !== lastKey) {
        lastSeq = standardNodeSequence(members.map((m) => m.id), maxClusterSize);
        lastKey = key;
      }
      const copies = Math.min(replicationFactor, members.length);
      return lastSeq.map((seq) => {
        const row: ClusterMember[] = new Array<ClusterMember>(seq.length);
        for (let i = 0; i < seq.length; i++) row[i] = members[seq[i] as number] as ClusterMember;
        if (domains.length > 0) spreadRow(row, copies, domains);
        const out: NodeId[] = new Array<NodeId>(copies);
        for (let i = 0; i < copies; i++) out[i] = (row[i] as ClusterMember).id;
        return out;
      });
    },
  };
}
