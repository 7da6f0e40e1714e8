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
import { encodeRecordPage } from '../../core/replication/record-page.ts';

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

  it('lays a put out as its kind, the namespace and a one-record page, byte for byte (what other nodes of this fabric version read)', () => {
    for (const ns of ['test', 'námespace', '']) {
      for (const r of [record, { ...record, key: undefined, set: '' }, { ...record, payload: new Uint8Array(0), tombstone: true }, { ...record, set: 'sët' }]) {
        const name = Buffer.from(ns, 'utf8');
        const expected = Buffer.concat([Buffer.from([1, name.length]), name, encodeRecordPage({ records: [r], done: true })]);
        assert.deepEqual([...encodeReplicaChange(ns, { kind: 'put', record: r })], [...expected]);
      }
    }
    // and the record's own bytes, written out by hand
    const small = { ...record, set: 's', key: new Uint8Array([3, 0x6b]), payload: new Uint8Array([9, 8, 7]), meta: { generation: 0x0a0b0c0d, voidTime: 0x01000002, lastUpdateMs: 1.5 } };
    const f64 = Buffer.alloc(8);
    f64.writeDoubleBE(1.5);
    assert.deepEqual([...encodeReplicaChange('ns', { kind: 'put', record: small })], [
      1, 2, 0x6e, 0x73, // put, namespace "ns"
      1, 1, 0, 0, 0, 1, // page version 1, done, one record
      ...digest, 2, 0x0a, 0x0b, 0x0c, 0x0d, 1, 0, 0, 2, ...f64, 1, 0x73, 0, 2, 3, 0x6b, 0, 0, 0, 3, 9, 8, 7,
    ]);
    const removal = encodeReplicaChange('ns', { kind: 'remove', digest, partition: partitionOf(digest), generation: 0x01020304 });
    assert.deepEqual([...removal], [2, 2, 0x6e, 0x73, ...digest, 1, 2, 3, 4]);
  });

  it('decodes names seen before to the same strings, and new names anew', () => {
    const names = ['a', 'b', 'ab', 'ba', 'ñ', 'n', ...Array.from({ length: 40 }, (_, i) => `set${i}`), 'a'];
    for (const set of names) {
      for (const ns of ['x', 'y']) {
        const out = decodeReplicaChange(encodeReplicaChange(ns, { kind: 'put', record: { ...record, set } }));
        assert.equal(out.namespace, ns);
        assert.equal(out.change.kind === 'put' ? out.change.record.set : undefined, set);
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
      Uint8Array.from([...good, 0]), // a byte after the record
      Uint8Array.from([1, 0, ...encodeRecordPage({ records: [record, record], done: true })]), // two records
      Uint8Array.from([1, 0, ...encodeRecordPage({ records: [], done: true })]), // none
    ];
    for (const b of bad) assert.throws(() => decodeReplicaChange(b), (e: unknown) => e instanceof DbError && /does not decode/.test(e.message), `bytes ${[...b].slice(0, 8).join(',')}`);
  });
});
