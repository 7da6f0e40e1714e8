/**
 * The backup file format, versions 1 and 2 (docs/backup.md describes it for other readers).
 *
 * file    := header, block*, end
 * header  := "SLIPBAK\n" (8 bytes), u16 version, u8 compression (0 none, 1 gzip, 2 zstd),
 *            u8 encryption (version 2: 0 none, 1 aes128, 2 aes256; version 1: 0), u32 0
 * block   := u32 storedLength (> 0), u32 rawLength, u32 recordCount, u32 crc32(stored), stored
 *            (stored = raw compressed by the file's compression, then, when encrypted,
 *            nonce (12) ‖ AES-GCM ciphertext ‖ tag (16); raw = recordCount × entry)
 * end     := u32 0, u64 records, u32 blocks   (a file without it was cut short)
 * entry   := u8 1, u8 setLength, set, digest (20), key, u32 generation, u32 voidTime,
 *            f64 lastUpdateMs, u32 binsLength, bins (the core record codec, core/model/record-codec.ts)
 * key     := u8 0 (none) | u8 1, i64 (integer) | u8 3, u32 length, utf8 (string) | u8 4, u32 length, bytes
 * All numbers little-endian. Every file's SHA-256 is in the manifest (backup.json).
 */
import { crc32, gunzipSync, gzip, zstdCompress, zstdDecompressSync } from 'node:zlib';
import { promisify } from 'node:util';
import { DbError } from '../../errors/index.ts';
import { decodeBins, encodeBins, type Bins, type UserKey } from '../../model/index.ts';
import { open as openSealed, seal as sealBytes, type BackupKey, type Encryption } from './encryption.ts';

/** Unencrypted files are written as version 1 (readable by every release); encrypted ones as version 2. */
export const FORMAT_VERSION = 2;
export const MAGIC = Buffer.from('SLIPBAK\n', 'latin1');
export const HEADER_BYTES = 16;
export const BLOCK_HEADER_BYTES = 16;
export const END_BYTES = 16;
export const FILE_SUFFIX = '.slb';
export const MANIFEST = 'backup.json';

export type Compression = 'none' | 'gzip' | 'zstd';
const COMPRESSION_CODE: Record<Compression, number> = { none: 0, gzip: 1, zstd: 2 };
const COMPRESSION_OF = ['none', 'gzip', 'zstd'] as const;

/** One backed-up record. */
export interface BackupEntry {
  readonly set: string;
  readonly digest: Uint8Array;
  readonly userKey: UserKey | undefined;
  readonly generation: number;
  /** Seconds since the epoch; 0 never. */
  readonly voidTime: number;
  readonly lastUpdateMs: number;
  readonly bins: Bins;
}

const ENCRYPTION_OF = ['none', 'aes128', 'aes256'] as const;

export function fileHeader(compression: Compression, key?: BackupKey): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(b, 0);
  b.writeUInt16LE(key === undefined ? 1 : 2, 8);
  b.writeUInt8(COMPRESSION_CODE[compression], 10);
  b.writeUInt8(key === undefined ? 0 : ENCRYPTION_OF.indexOf(key.mode), 11);
  return b;
}

export function fileEnd(records: number, blocks: number): Buffer {
  const b = Buffer.alloc(END_BYTES);
  b.writeUInt32LE(0, 0);
  b.writeBigUInt64LE(BigInt(records), 4);
  b.writeUInt32LE(blocks, 12);
  return b;
}

/** Appends entries to a raw block. */
export class BlockWriter {
  private parts: Buffer[] = [];
  bytes = 0;
  records = 0;

  add(e: BackupEntry): void {
    const set = Buffer.from(e.set, 'utf8');
    const bins = encodeBins(e.bins);
    let keyPart: Buffer;
    const k = e.userKey;
    if (k === undefined) keyPart = Buffer.from([0]);
    else if (typeof k === 'bigint') { keyPart = Buffer.alloc(9); keyPart[0] = 1; keyPart.writeBigInt64LE(k, 1); }
    else {
      const body = typeof k === 'string' ? Buffer.from(k, 'utf8') : Buffer.from(k);
      keyPart = Buffer.alloc(5 + body.length);
      keyPart[0] = typeof k === 'string' ? 3 : 4;
      keyPart.writeUInt32LE(body.length, 1);
      body.copy(keyPart, 5);
    }
    const head = Buffer.alloc(2 + set.length + 20);
    head[0] = 1;
    head[1] = set.length;
    set.copy(head, 2);
    head.set(e.digest, 2 + set.length);
    const meta = Buffer.alloc(20);
    meta.writeUInt32LE(e.generation, 0);
    meta.writeUInt32LE(e.voidTime, 4);
    meta.writeDoubleLE(e.lastUpdateMs, 8);
    meta.writeUInt32LE(bins.length, 16);
    this.parts.push(head, keyPart, meta, Buffer.from(bins.buffer, bins.byteOffset, bins.length));
    this.bytes += head.length + keyPart.length + meta.length + bins.length;
    this.records++;
  }

  /** The block as written to the file (header + compressed body); empties the writer. */
  async seal(compression: Compression, key?: BackupKey): Promise<Buffer> {
    const raw = Buffer.concat(this.parts, this.bytes);
    const packed = compression === 'none' ? raw : compression === 'gzip' ? await gzipAsync(raw) : await zstdAsync(raw);
    const stored = key === undefined ? packed : sealBytes(key, packed);
    const h = Buffer.alloc(BLOCK_HEADER_BYTES);
    h.writeUInt32LE(stored.length, 0);
    h.writeUInt32LE(raw.length, 4);
    h.writeUInt32LE(this.records, 8);
    h.writeUInt32LE(crc32(stored), 12);
    this.parts = [];
    this.bytes = 0;
    this.records = 0;
    return Buffer.concat([h, stored]);
  }
}

const gzipAsync = promisify(gzip);
const zstdAsync = promisify(zstdCompress);

/** A damaged backup file: the message names the file and the byte offset. */
export function corrupt(file: string, offset: number, what: string): DbError {
  return new DbError('PARAMETER', `backup file ${file} is corrupt at byte offset ${offset}: ${what}`, {
    hint: 'take the backup again, or restore the other files without this one',
  });
}

/** Reads the entries of one backup file (already loaded), block by block, checking everything. */
export function* readBackupFile(file: string, data: Buffer, key?: BackupKey): Generator<{ entries: BackupEntry[]; offset: number }> {
  if (data.length < HEADER_BYTES || !data.subarray(0, 8).equals(MAGIC)) throw corrupt(file, 0, 'it does not start with a Slipstream backup header');
  const version = data.readUInt16LE(8);
  if (version < 1 || version > FORMAT_VERSION) {
    throw new DbError('PARAMETER', `backup file ${file} has format version ${version}; this tool reads versions 1 to ${FORMAT_VERSION}`, { hint: 'restore it with the Slipstream version that wrote it' });
  }
  const compression = COMPRESSION_OF[data.readUInt8(10)];
  if (compression === undefined) throw corrupt(file, 10, `unknown compression code ${data.readUInt8(10)}`);
  const encryption: Encryption | undefined = version === 1 ? 'none' : ENCRYPTION_OF[data.readUInt8(11)];
  if (encryption === undefined) throw corrupt(file, 11, `unknown encryption code ${data.readUInt8(11)}`);
  if (encryption !== 'none' && key === undefined) {
    throw new DbError('PARAMETER', `backup file ${file} is encrypted (${encryption})`, { hint: `restore with --encrypt ${encryption} and its key (--encryption-key-file or --encryption-key-env)` });
  }
  if (encryption !== 'none' && key !== undefined && key.mode !== encryption) {
    throw new DbError('PARAMETER', `backup file ${file} is encrypted with ${encryption}, not ${key.mode}`, { hint: `restore with --encrypt ${encryption}` });
  }
  const unseal = encryption === 'none' ? undefined : key;
  let at = HEADER_BYTES;
  let records = 0;
  let blocks = 0;
  for (;;) {
    if (at + 4 > data.length) throw corrupt(file, at, 'the file ends without its end marker (it was cut short)');
    const storedLength = data.readUInt32LE(at);
    if (storedLength === 0) {
      if (at + END_BYTES > data.length) throw corrupt(file, at, 'the end marker is cut short');
      const wantRecords = Number(data.readBigUInt64LE(at + 4));
      const wantBlocks = data.readUInt32LE(at + 12);
      if (wantRecords !== records || wantBlocks !== blocks) throw corrupt(file, at, `the end marker counts ${wantRecords} records in ${wantBlocks} blocks, the file holds ${records} in ${blocks}`);
      if (at + END_BYTES !== data.length) throw corrupt(file, at + END_BYTES, 'bytes follow the end marker');
      return;
    }
    if (at + BLOCK_HEADER_BYTES + storedLength > data.length) throw corrupt(file, at, `a block of ${storedLength} bytes runs past the end of the file`);
    const rawLength = data.readUInt32LE(at + 4);
    const count = data.readUInt32LE(at + 8);
    const crc = data.readUInt32LE(at + 12);
    const stored = data.subarray(at + BLOCK_HEADER_BYTES, at + BLOCK_HEADER_BYTES + storedLength);
    if (crc32(stored) !== crc) throw corrupt(file, at, 'the block checksum (CRC-32) does not match');
    let packed: Buffer = stored;
    if (unseal !== undefined) {
      try {
        packed = openSealed(unseal, stored);
      } catch (err) {
        throw corrupt(file, at, (err as Error).message);
      }
    }
    let raw: Buffer;
    try {
      raw = compression === 'none' ? packed : compression === 'gzip' ? gunzipSync(packed) : zstdDecompressSync(packed);
    } catch (err) {
      throw corrupt(file, at, `the block does not decompress (${(err as Error).message})`);
    }
    if (raw.length !== rawLength) throw corrupt(file, at, `the block holds ${raw.length} bytes, its header says ${rawLength}`);
    yield { entries: decodeBlock(file, at, raw, count), offset: at };
    records += count;
    blocks++;
    at += BLOCK_HEADER_BYTES + storedLength;
  }
}

function decodeBlock(file: string, blockAt: number, raw: Buffer, count: number): BackupEntry[] {
  const out: BackupEntry[] = [];
  let p = 0;
  const need = (n: number): void => {
    if (p + n > raw.length) throw corrupt(file, blockAt, `entry ${out.length + 1} of the block runs past its end (byte ${p} of ${raw.length})`);
  };
  for (let i = 0; i < count; i++) {
    need(2);
    if (raw[p] !== 1) throw corrupt(file, blockAt, `entry ${i + 1} of the block has unknown kind ${raw[p]}`);
    const setLen = raw[p + 1] as number;
    p += 2;
    need(setLen + 21);
    const set = raw.toString('utf8', p, p + setLen);
    p += setLen;
    const digest = new Uint8Array(raw.subarray(p, p + 20));
    p += 20;
    const kt = raw[p++];
    let userKey: UserKey | undefined;
    if (kt === 1) { need(8); userKey = raw.readBigInt64LE(p); p += 8; }
    else if (kt === 3 || kt === 4) {
      need(4);
      const n = raw.readUInt32LE(p);
      p += 4;
      need(n);
      userKey = kt === 3 ? raw.toString('utf8', p, p + n) : new Uint8Array(raw.subarray(p, p + n));
      p += n;
    } else if (kt !== 0) throw corrupt(file, blockAt, `entry ${i + 1} of the block has unknown key type ${kt}`);
    need(20);
    const generation = raw.readUInt32LE(p);
    const voidTime = raw.readUInt32LE(p + 4);
    const lastUpdateMs = raw.readDoubleLE(p + 8);
    const binsLen = raw.readUInt32LE(p + 16);
    p += 20;
    need(binsLen);
    let bins: Bins;
    try {
      bins = decodeBins(raw.subarray(p, p + binsLen));
    } catch (err) {
      throw corrupt(file, blockAt, `entry ${i + 1} of the block has bins that do not decode (${(err as Error).message})`);
    }
    p += binsLen;
    out.push({ set, digest, userKey, generation, voidTime, lastUpdateMs, bins });
  }
  if (p !== raw.length) throw corrupt(file, blockAt, `the block has ${raw.length - p} bytes after its ${count} entries`);
  return out;
}
