/**
 * Backup encryption (asbackup's `--encrypt aes128|aes256` with `--encryption-key-file` or
 * `--encryption-key-env`): every block's stored bytes are sealed with AES-GCM under a key
 * derived from the key material, a fresh 96-bit nonce per block, and the 128-bit tag after
 * the ciphertext — so a wrong key or an altered block is refused, never decoded as garbage.
 * node:crypto does the work.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DbError } from '../../errors/index.ts';

export type Encryption = 'none' | 'aes128' | 'aes256';
export const ENCRYPTIONS: readonly Encryption[] = ['none', 'aes128', 'aes256'];

/** An encryption mode with its key. */
export interface BackupKey {
  readonly mode: 'aes128' | 'aes256';
  readonly key: Buffer;
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * The key from key material: a PEM file's decoded body (e.g. an RSA key made with
 * `openssl genrsa`, as asbackup takes) or any other bytes, hashed with SHA-256 and cut to
 * 16 bytes (aes128) or used whole (aes256).
 */
export function keyFromMaterial(material: Buffer, mode: 'aes128' | 'aes256'): BackupKey {
  const text = material.toString('latin1');
  const pem = /-----BEGIN [^-]+-----([\s\S]*?)-----END [^-]+-----/.exec(text);
  const bytes = pem === null ? material : Buffer.from((pem[1] as string).replace(/\s+/g, ''), 'base64');
  if (bytes.length < 16) {
    throw new DbError('PARAMETER', `the encryption key material is ${bytes.length} bytes; at least 16 are needed`, {
      hint: 'make a key file with e.g. `openssl genrsa -out backup.pem 2048` (or 32 random bytes)',
    });
  }
  const digest = createHash('sha256').update(bytes).digest();
  return { mode, key: mode === 'aes128' ? digest.subarray(0, 16) : digest };
}

/** The key named by `--encryption-key-file <path>` or `--encryption-key-env <VAR>` (base64, as asbackup). */
export function loadKey(mode: 'aes128' | 'aes256', from: { file?: string; env?: string }): BackupKey {
  if ((from.file === undefined) === (from.env === undefined)) {
    throw new DbError('PARAMETER', `--encrypt ${mode} needs the key: --encryption-key-file or --encryption-key-env (one of them)`, { hint: 'name the file (PEM) or the environment variable (base64) holding the key' });
  }
  if (from.file !== undefined) {
    let material: Buffer;
    try {
      material = readFileSync(from.file);
    } catch (err) {
      throw new DbError('PARAMETER', `cannot read the encryption key file ${from.file}: ${(err as Error).message}`, { hint: 'give the path of the key file (PEM)' });
    }
    return keyFromMaterial(material, mode);
  }
  const value = process.env[from.env as string];
  if (value === undefined || value === '') {
    throw new DbError('PARAMETER', `the environment variable ${from.env} holding the encryption key is not set`, { hint: 'export it with the key in base64' });
  }
  return keyFromMaterial(Buffer.from(value, 'base64'), mode);
}

/** A short value that shows whether a key is the one a backup was written with (not the key). */
export function keyCheck(k: BackupKey): string {
  return createHmac('sha256', k.key).update('slipstream-backup key check').digest('hex').slice(0, 16);
}

function algorithm(k: BackupKey): 'aes-128-gcm' | 'aes-256-gcm' {
  return k.mode === 'aes128' ? 'aes-128-gcm' : 'aes-256-gcm';
}

/** nonce ‖ ciphertext ‖ tag */
export function seal(k: BackupKey, plain: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv(algorithm(k), k.key, nonce);
  return Buffer.concat([nonce, c.update(plain), c.final(), c.getAuthTag()]);
}

/** The plain bytes; throws when the key is wrong or the bytes were altered. */
export function open(k: BackupKey, sealed: Buffer): Buffer {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new Error('too short to hold an encrypted block');
  const d = createDecipheriv(algorithm(k), k.key, sealed.subarray(0, NONCE_BYTES));
  d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([d.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), d.final()]);
  } catch {
    throw new Error('it does not decrypt with this key (wrong key, or the block was altered)');
  }
}
