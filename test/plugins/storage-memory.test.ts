import { strict as assert } from 'node:assert';
import { storageEngineKit } from 'slipstream/testing';
import { digestString, partitionOf } from 'slipstream/plugin-api';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { packedMeta, packRecord, unpackRecord } from '../../plugins/storage-memory/record-string.ts';
import { MemoryEngine } from '../../plugins/storage-memory/memory-engine.ts';

storageEngineKit({ plugin: memoryStorage(), capabilities: { durable: false } });


describe('storage-memory/packed records', () => {
  const record = (set: string, payloadBytes: number, fill: number, key?: Uint8Array) => {
    const digest = new Uint8Array(20).fill(fill);
    return { digest, partition: partitionOf(digest), set, meta: { generation: fill, voidTime: 7, lastUpdateMs: 1234.5 }, key, payload: new Uint8Array(payloadBytes).fill(fill), tombstone: false };
  };

  it('each packed record keeps its own bytes (small ones share one scratch buffer, large ones do not), whatever the set name', () => {
    const recs = [
      record('s', 10, 1), record('s', 200_000, 2, new Uint8Array([3, 65, 66])), record('ümlaut-set', 30, 3), record('', 0, 4), record('s', 70_000, 5),
    ];
    const packed = recs.map(packRecord);
    recs.forEach((r, i) => {
      const back = unpackRecord(digestString(r.digest), packed[i] as string);
      assert.equal(back.set, r.set);
      assert.deepEqual(back.meta, r.meta);
      assert.deepEqual(back.key === undefined ? undefined : [...back.key], r.key === undefined ? undefined : [...r.key]);
      assert.equal(back.payload.length, r.payload.length, `record ${i}`);
      assert.ok(back.payload.every((b) => b === r.payload[0]), `record ${i} payload is its own`);
    });
  });

  it('reads a packed record\'s set, metadata and tombstone flag off the string as unpacking it does', () => {
    const recs = [record('s', 10, 1), record('ümlaut-set', 30, 3, new Uint8Array([3, 65])), record('', 0, 4), { ...record('s', 0, 200), tombstone: true, meta: { generation: 0xffffffff, voidTime: 0xfffffffe, lastUpdateMs: 1_700_000_000_000.75 } }];
    for (const r of recs) {
      const packed = packRecord(r);
      const back = unpackRecord(digestString(r.digest), packed);
      assert.deepEqual(packedMeta(packed), { set: back.set, meta: back.meta, tombstone: back.tombstone });
      assert.deepEqual(packedMeta(packed), { set: r.set, meta: r.meta, tombstone: r.tombstone });
    }
    assert.equal(typeof new MemoryEngine(1024).getMeta, 'function', 'the memory engine offers getMeta');
  });
});
