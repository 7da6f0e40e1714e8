import { ripemd160 } from './ripemd160.ts';
import { writeUtf8 } from './utf8.ts';
import { DbError } from '../errors/index.ts';
import { checkInt64 } from './values.ts';
import { partitionOf, type PartitionId } from './partition.ts';

/** A user key: integer (64-bit), string or bytes. */
export type UserKey = bigint | string | Uint8Array;

export const DIGEST_BYTES = 20;

/** Aerospike particle types used as the key-type byte of the digest. */
export const KeyType = { INTEGER: 1, STRING: 3, BYTES: 4 } as const;

/** Where a record lives: namespace, set, digest, partition; the user key when known. */
export interface RecordKey {
  readonly namespace: string;
  readonly set: string;
  readonly digest: Uint8Array;
  readonly partition: PartitionId;
  readonly userKey?: UserKey;
}

/** The bytes hashed for a key after its type byte. Integers are 8 bytes big-endian. */
export function keyBytes(key: UserKey): Uint8Array {
  if (typeof key === 'bigint') {
    const b = Buffer.allocUnsafe(8);
    b.writeBigInt64BE(checkInt64(key, 'integer key'));
    return b;
  }
  if (typeof key === 'string') return Buffer.from(key, 'utf8');
  return key;
}

export function keyTypeOf(key: UserKey): number {
  return typeof key === 'bigint' ? KeyType.INTEGER : typeof key === 'string' ? KeyType.STRING : KeyType.BYTES;
}

let scratch = Buffer.allocUnsafe(1024);

/** Writes `s` as UTF-8 at `at` of the scratch buffer, growing it first; returns the end. */
function putUtf8(s: string, at: number): number {
  if (at + s.length * 3 > scratch.length) grow(at + s.length * 3);
  return writeUtf8(scratch, at, s);
}

function grow(size: number): void {
  const next = Buffer.allocUnsafe(Math.max(size, scratch.length * 2));
  scratch.copy(next);
  scratch = next;
}

/** RIPEMD-160(set ‖ key-type byte ‖ key bytes), exactly as Aerospike computes it. The namespace is not hashed. */
export function computeDigest(set: string, key: UserKey): Uint8Array {
  // Assembled in one scratch buffer and hashed in JavaScript: no allocation but the result.
  let end = putUtf8(set, 0);
  if (end + 10 > scratch.length) grow(end + 10);
  scratch[end++] = keyTypeOf(key);
  if (typeof key === 'string') {
    end = putUtf8(key, end);
  } else if (typeof key === 'bigint') {
    scratch.writeBigInt64BE(checkInt64(key, 'integer key'), end);
    end += 8;
  } else {
    if (end + key.length > scratch.length) grow(end + key.length);
    scratch.set(key, end);
    end += key.length;
  }
  return ripemd160(scratch, end);
}

export function makeKey(namespace: string, set: string, key: UserKey): RecordKey {
  const digest = computeDigest(set, key);
  return { namespace, set, digest, partition: partitionOf(digest), userKey: key };
}

export function keyFromDigest(namespace: string, set: string, digest: Uint8Array): RecordKey {
  if (digest.length !== DIGEST_BYTES) {
    throw new DbError('PARAMETER', `a digest is ${DIGEST_BYTES} bytes, got ${digest.length}`, {
      hint: 'pass the 20-byte RIPEMD-160 digest (40 hex characters)',
    });
  }
  return { namespace, set, digest, partition: partitionOf(digest) };
}

/** Encodes a user key for storage next to the record (send-key): type byte then key bytes. */
export function encodeUserKey(key: UserKey): Uint8Array {
  const body = keyBytes(key);
  const out = new Uint8Array(body.length + 1);
  out[0] = keyTypeOf(key);
  out.set(body, 1);
  return out;
}

export function decodeUserKey(bytes: Uint8Array): UserKey {
  const body = Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.length - 1);
  switch (bytes[0]) {
    case KeyType.INTEGER: return body.readBigInt64BE(0);
    case KeyType.STRING: return body.toString('utf8');
    case KeyType.BYTES: return new Uint8Array(body);
    default: throw new DbError('SERVER_ERROR', `stored key has unknown type ${bytes[0]}`);
  }
}

/**
 * A digest as a 20-character latin1 string: the form maps and locks key records by.
 * String.fromCharCode with the 20 bytes as arguments is ~4× faster than a Buffer's latin1
 * decode (no call into C++), and it is on every read and write.
 */
export function digestString(d: Uint8Array): string {
  if (d.length !== DIGEST_BYTES) return Buffer.from(d.buffer, d.byteOffset, d.length).toString('latin1');
  return String.fromCharCode(d[0]!, d[1]!, d[2]!, d[3]!, d[4]!, d[5]!, d[6]!, d[7]!, d[8]!, d[9]!,
    d[10]!, d[11]!, d[12]!, d[13]!, d[14]!, d[15]!, d[16]!, d[17]!, d[18]!, d[19]!);
}

export function digestHex(digest: Uint8Array): string {
  return Buffer.from(digest.buffer, digest.byteOffset, digest.length).toString('hex');
}
