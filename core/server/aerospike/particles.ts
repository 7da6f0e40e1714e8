/**
 * Bin values as operation values on the wire (particles): integer 8 bytes big-endian, float
 * IEEE-754 big-endian, string UTF-8, blob raw, bool one byte, list and map as Aerospike
 * msgpack, GeoJSON as flags + cell count + cells + text, HLL as its bytes (particle type 18).
 */
import { DbError } from '../../errors/index.ts';
import { GeoJson, Hll, parseGeoJson, parseHll, type BinValue } from '../../model/index.ts';
import { MsgpackReader, MsgpackWriter, toBinValue } from './msgpack.ts';
import { Particle } from './protocol.ts';

export function particleOf(v: BinValue): number {
  if (v === null) return Particle.NULL;
  switch (typeof v) {
    case 'bigint': return Particle.INTEGER;
    case 'number': return Particle.FLOAT;
    case 'string': return Particle.STRING;
    case 'boolean': return Particle.BOOL;
    default: break;
  }
  if (v instanceof Uint8Array) return Particle.BLOB;
  if (v instanceof GeoJson) return Particle.GEOJSON;
  if (v instanceof Hll) return Particle.HLL;
  if (Array.isArray(v)) return Particle.LIST;
  return Particle.MAP;
}

const packedCache = new WeakMap<object, Buffer>();

function packed(v: BinValue): Buffer {
  const o = v as object;
  let b = packedCache.get(o);
  if (b === undefined) {
    const w = new MsgpackWriter();
    w.write(v);
    b = w.bytes();
    packedCache.set(o, b);
  }
  return b;
}

/** Bytes the value takes as a particle. */
export function particleBytes(v: BinValue): number {
  if (v === null) return 0;
  switch (typeof v) {
    case 'bigint': case 'number': return 8;
    case 'string': return Buffer.byteLength(v, 'utf8');
    case 'boolean': return 1;
    default: break;
  }
  if (v instanceof Uint8Array) return v.length;
  if (v instanceof GeoJson) return 3 + Buffer.byteLength(v.text, 'utf8');
  if (v instanceof Hll) return v.bytes.length;
  return packed(v).length;
}

/** Writes the value's particle bytes at `at`; returns the end. `buf` has room (particleBytes). */
export function writeParticle(buf: Buffer, at: number, v: BinValue): number {
  if (v === null) return at;
  switch (typeof v) {
    case 'bigint': buf.writeBigInt64BE(v, at); return at + 8;
    case 'number': buf.writeDoubleBE(v, at); return at + 8;
    case 'string': return at + buf.write(v, at, 'utf8');
    case 'boolean': buf[at] = v ? 1 : 0; return at + 1;
    default: break;
  }
  if (v instanceof Uint8Array) { buf.set(v, at); return at + v.length; }
  if (v instanceof GeoJson) {
    buf[at] = 0;
    buf.writeUInt16BE(0, at + 1);
    return at + 3 + buf.write(v.text, at + 3, 'utf8');
  }
  if (v instanceof Hll) { buf.set(v.bytes, at); return at + v.bytes.length; }
  const p = packed(v);
  p.copy(buf, at);
  return at + p.length;
}

/** The bin value of a particle from a request. */
export function readParticle(type: number, data: Buffer, what: string): BinValue {
  switch (type) {
    case Particle.NULL: return null;
    case Particle.INTEGER: {
      if (data.length === 8) return data.readBigInt64BE(0);
      if (data.length < 1 || data.length > 8) throw badParticle(what, 'an integer needs 1 to 8 bytes');
      let v = 0n;
      for (const b of data) v = (v << 8n) | BigInt(b);
      return BigInt.asIntN(data.length * 8, v);
    }
    case Particle.FLOAT:
      if (data.length !== 8) throw badParticle(what, 'a double needs 8 bytes');
      return data.readDoubleBE(0);
    case Particle.STRING: return data.toString('utf8');
    case Particle.BOOL:
      if (data.length !== 1) throw badParticle(what, 'a boolean needs 1 byte');
      return data[0] !== 0;
    case Particle.LIST: case Particle.MAP: {
      const r = new MsgpackReader(data);
      const v = toBinValue(r.read());
      if (type === Particle.LIST && !Array.isArray(v)) throw badParticle(what, 'a list particle must hold a msgpack array');
      if (type === Particle.MAP && !(v instanceof Map)) throw badParticle(what, 'a map particle must hold a msgpack map');
      return v;
    }
    case Particle.GEOJSON: {
      if (data.length < 3) throw badParticle(what, 'GeoJSON needs flags and a cell count');
      const cells = data.readUInt16BE(1);
      const start = 3 + cells * 8;
      if (start > data.length) throw badParticle(what, 'GeoJSON cells run past the value');
      return parseGeoJson(data.toString('utf8', start));
    }
    case Particle.HLL: return parseHll(new Uint8Array(data), what);
    default:
      // blobs: 4 and the language blob subtypes 7..12
      if (type === Particle.BLOB || (type >= 7 && type <= 12)) return new Uint8Array(data);
      throw badParticle(what, `particle type ${type} is not known`);
  }
}

function badParticle(what: string, why: string): DbError {
  return new DbError('PARAMETER', `${what}: ${why}`, { hint: 'send values encoded as the Aerospike clients encode them' });
}
