/**
 * The Get fast path: a stored record transcoded straight into GetResponse protobuf bytes,
 * without building bin values and protobuf objects in between (a read is the hottest call;
 * see docs/benchmarks.md). The output decodes exactly as GetResponse.encode(toPbRecord(...))
 * would; test/server/get-response.test.ts checks that for random records.
 */
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import type { StoredRecord } from '../../plugin-api/index.ts';
import { decodeUserKey, ttlOf, walkBins, type BinVisitor } from '../../model/index.ts';
import { toPbValue } from '../convert.ts';
import { Value } from '../generated/slipstream/v1/types.ts';

const LEN = WireType.LengthDelimited;

/** Field numbers of Value's oneof (types.proto). */
const V_NIL = 1, V_INT = 2, V_DOUBLE = 3, V_STRING = 4, V_BYTES = 5, V_BOOL = 6, V_LIST = 7, V_MAP = 8, V_GEO = 9;

/**
 * Writes a walk's events as protobuf: each bin as a Bin (field 3 of Record), each value as a
 * Value message under its container's field — a Bin's value (2), a list item (1), a map
 * entry's key (1) then value (2), each entry a MapEntry (field 1 of MapValue).
 */
class RecordBinsWriter implements BinVisitor {
  private readonly w: BinaryWriter;
  private readonly frames: Array<{ field: number; readonly map: boolean }> = [];
  constructor(w: BinaryWriter) { this.w = w; }

  private top(): { field: number; readonly map: boolean } {
    return this.frames[this.frames.length - 1] as { field: number; readonly map: boolean };
  }
  private open(): BinaryWriter {
    return this.w.tag(this.top().field, LEN).fork();
  }
  /** After a whole value: in a map, a key is followed by its value, a value closes the entry. */
  private after(): void {
    const top = this.top();
    if (!top.map) return;
    if (top.field === 1) top.field = 2;
    else { this.w.join(); top.field = 1; }
  }

  bin(name: string): void {
    if (this.frames.length > 0) this.w.join();
    this.frames.length = 0;
    this.w.tag(3, LEN).fork().tag(1, LEN).string(name);
    this.frames.push({ field: 2, map: false });
  }
  finish(): void {
    if (this.frames.length > 0) this.w.join();
  }
  nil(): void { this.open().tag(V_NIL, LEN).fork().join().join(); this.after(); }
  int(v: bigint): void { this.open().tag(V_INT, WireType.Varint).sint64(v).join(); this.after(); }
  double(v: number): void { this.open().tag(V_DOUBLE, WireType.Bit64).double(v).join(); this.after(); }
  string(utf8: Uint8Array): void { this.open().tag(V_STRING, LEN).bytes(utf8).join(); this.after(); }
  bytes(v: Uint8Array): void { this.open().tag(V_BYTES, LEN).bytes(v).join(); this.after(); }
  bool(v: boolean): void { this.open().tag(V_BOOL, WireType.Varint).bool(v).join(); this.after(); }
  geojson(utf8: Uint8Array): void { this.open().tag(V_GEO, LEN).bytes(utf8).join(); this.after(); }
  listStart(): void { this.open().tag(V_LIST, LEN).fork(); this.frames.push({ field: 1, map: false }); }
  listEnd(): void { this.frames.pop(); this.w.join().join(); this.after(); }
  mapStart(): void { this.open().tag(V_MAP, LEN).fork(); this.frames.push({ field: 1, map: true }); }
  mapKey(): void { this.w.tag(1, LEN).fork(); }
  mapValue(): void {}
  mapEnd(): void { this.frames.pop(); this.w.join().join(); this.after(); }
}

/** GetResponse bytes for a visible stored record of `namespace`. */
export function encodeGetResponse(namespace: string, rec: StoredRecord, nowMs: number): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, LEN).fork(); // record
  // key
  w.tag(1, LEN).fork();
  if (namespace !== '') w.tag(1, LEN).string(namespace);
  if (rec.set !== '') w.tag(2, LEN).string(rec.set);
  w.tag(3, LEN).bytes(rec.digest);
  if (rec.partition !== 0) w.tag(4, WireType.Varint).uint32(rec.partition);
  if (rec.key !== undefined) w.tag(5, LEN).bytes(Value.encode(toPbValue(decodeUserKey(rec.key))).finish());
  w.join();
  // meta
  w.tag(2, LEN).fork();
  if (rec.meta.generation !== 0) w.tag(1, WireType.Varint).uint32(rec.meta.generation);
  const ttl = ttlOf(rec.meta.voidTime, nowMs);
  if (ttl !== 0) w.tag(2, WireType.Varint).int64(ttl);
  const lut = Math.floor(rec.meta.lastUpdateMs);
  if (lut !== 0) w.tag(3, WireType.Varint).int64(lut);
  w.join();
  // bins
  const bins = new RecordBinsWriter(w);
  walkBins(rec.payload, bins);
  bins.finish();
  w.join();
  return w.finish();
}
