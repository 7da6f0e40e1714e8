/**
 * The replica write as bytes (what a master sends each replica for every write): a record, a
 * tombstone and a removal come back as they were sent, with their namespace; bytes that do not
 * decode are refused with a DbError.
 */
import { strict as assert } from 'node:assert';
import { DbError } from '../../core/errors/index.ts';
import { computeDigest, encodeBins, encodeUserKey, partitionOf } from '../../core/model/index.ts';
import type { StoredRecord } from '../../core/plugin-api/index.ts';
import { decodeReplicaChange, encodeReplicaChange, type ReplicaChange } from '../../core/replication/replica-writes.ts';

const digest = computeDigest('s', 'k1');
const record: StoredRecord = {
  digest, partition: partitionOf(digest), set: 's', meta: { generation: 7, voidTime: 12345, lastUpdateMs: 1_700_000_000_123 },
  key: encodeUserKey('k1'), payload: encodeBins({ v: 5n, s: 'ünï', b: new Uint8Array([1, 2, 3]) }), tombstone: false,
};
const plain = (c: ReplicaChange): unknown => (c.kind === 'put'
  ? { ...c, record: { ...c.record, digest: [...c.record.digest], key: c.record.key === undefined ? undefined : [...c.record.key], payload: [...c.record.payload] } }
  : { ...c, digest: [...c.digest] });

describe('cluster/replica write bytes', () => {
  it('round-trips a record, a record without a key, a tombstone and a removal, with the namespace', () => {
    const changes: ReplicaChange[] = [
      { kind: 'put', record },
      { kind: 'put', record: { ...record, key: undefined, set: '' } },
      { kind: 'put', record: { ...record, payload: new Uint8Array(0), tombstone: true } },
      { kind: 'remove', digest, partition: partitionOf(digest), generation: 0xfffffffe },
    ];
    for (const ns of ['test', 'námespace']) {
      for (const change of changes) {
        const out = decodeReplicaChange(encodeReplicaChange(ns, change));
        assert.equal(out.namespace, ns);
        assert.deepEqual(plain(out.change), plain(change));
      }
    }
  });

  it('refuses bytes that do not decode, never half-reading them', () => {
    const good = encodeReplicaChange('test', { kind: 'put', record });
    const removal = encodeReplicaChange('test', { kind: 'remove', digest, partition: partitionOf(digest), generation: 1 });
    const bad = [
      new Uint8Array(0), new Uint8Array([1]), new Uint8Array([1, 9, 0x74]), // namespace past the end
      Uint8Array.from([3, ...good.subarray(1)]), // unknown kind
      good.subarray(0, good.length - 1), removal.subarray(0, removal.length - 1), Uint8Array.from([...removal, 0]),
    ];
    for (const b of bad) assert.throws(() => decodeReplicaChange(b), (e: unknown) => e instanceof DbError && /does not decode/.test(e.message), `bytes ${[...b].slice(0, 8).join(',')}`);
  });
});
