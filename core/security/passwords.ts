/**
 * Password handling. Aerospike's clients never send a password in clear: they send its
 * bcrypt hash under one fixed salt (the "credential"). Slipstream turns a clear password
 * from a gRPC caller into the same credential, so both kinds of client log in with one
 * stored secret, and stores only a scrypt hash of the credential under a random salt
 * (memory-hard; the credential itself never reaches the store or a log).
 */
import bcrypt from 'bcryptjs';
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { DbError } from '../errors/index.ts';

/** The salt every Aerospike client uses for the credential (as_password.c). */
export const CREDENTIAL_SALT = '$2a$10$7EqJtq98hPqEX7fNZaFWoO';

const SCRYPT: ScryptOptions = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_BYTES = 32;

export const MIN_PASSWORD_LENGTH = 1;
export const MAX_PASSWORD_BYTES = 256;

/** A stored password: scrypt parameters, salt and hash, so they can change later. */
export interface PasswordHash {
  readonly scheme: 'scrypt';
  readonly n: number;
  readonly r: number;
  readonly p: number;
  readonly salt: string;
  readonly hash: string;
}

/** The credential an Aerospike client would send for this clear password. */
export async function credentialOf(password: string): Promise<string> {
  checkPassword(password);
  return bcrypt.hash(password, CREDENTIAL_SALT);
}

export function checkPassword(password: string): void {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH) {
    throw new DbError('FORBIDDEN_PASSWORD', 'the password is empty', { hint: 'give a non-empty password' });
  }
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    throw new DbError('FORBIDDEN_PASSWORD', `the password is longer than ${MAX_PASSWORD_BYTES} bytes`, { hint: `use at most ${MAX_PASSWORD_BYTES} bytes` });
  }
}

/** Whether a string has the shape of a credential (a 60-character bcrypt hash under the fixed salt). */
export function isCredential(text: string): boolean {
  return text.length === 60 && text.startsWith(CREDENTIAL_SALT);
}

function derive(credential: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(credential, salt, KEY_BYTES, opts, (err, key) => (err === null ? resolve(key) : reject(err)));
  });
}

/** Hashes a credential for storage. */
export async function hashCredential(credential: string): Promise<PasswordHash> {
  const salt = randomBytes(16);
  const key = await derive(credential, salt, SCRYPT);
  return { scheme: 'scrypt', n: SCRYPT.N as number, r: SCRYPT.r as number, p: SCRYPT.p as number, salt: salt.toString('base64'), hash: key.toString('base64') };
}

/** Compares a credential with a stored hash in constant time. */
export async function verifyCredential(credential: string, stored: PasswordHash): Promise<boolean> {
  const expected = Buffer.from(stored.hash, 'base64');
  const key = await derive(credential, Buffer.from(stored.salt, 'base64'), { N: stored.n, r: stored.r, p: stored.p, maxmem: SCRYPT.maxmem });
  return key.length === expected.length && timingSafeEqual(key, expected);
}
