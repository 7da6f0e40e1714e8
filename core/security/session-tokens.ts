/**
 * Session tokens: what Login hands out and every later call carries
 * (`authorization: Bearer <token>`, or the Aerospike protocol's SESSION_TOKEN). A token is
 * `v1.<payload>.<mac>`: the user, the user's password epoch and an expiry, signed with
 * HMAC-SHA256 under a secret kept in system metadata, so any node holding the same metadata
 * accepts it. A password change raises the epoch and a dropped user is gone, so either ends
 * every session of that user at once. Rotating the secret ends every session, or after a grace
 * period during which tokens signed with the previous secret are still accepted.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { DbError } from '../errors/index.ts';

export interface TokenClaims {
  readonly user: string;
  readonly epoch: number;
  /** Expiry, ms since the epoch. */
  readonly expiresMs: number;
}

const PREFIX = 'v1.';
const MAX_TOKEN_CHARS = 2048;

/** The signing keys: the current secret, and the previous one while its grace period lasts. */
export interface TokenKeys {
  readonly current: Buffer;
  readonly previous?: { readonly secret: Buffer; readonly untilMs: number };
}

export class SessionTokens {
  private keys: TokenKeys;
  /** Tokens already checked, so a call pays one map lookup, not an HMAC. */
  private readonly verified = new Map<string, TokenClaims & { readonly previous: boolean }>();

  constructor(keys: Buffer | TokenKeys) {
    this.keys = Buffer.isBuffer(keys) ? { current: keys } : keys;
  }

  static newSecret(): Buffer {
    return randomBytes(32);
  }

  /** Replaces the signing keys (a rotation, here or on another node); tokens are checked again. */
  setKeys(keys: TokenKeys): void {
    this.keys = keys;
    this.verified.clear();
  }

  private mac(payload: string, secret = this.keys.current): Buffer {
    return createHmac('sha256', secret).update(payload).digest();
  }

  issue(claims: TokenClaims): string {
    const payload = Buffer.from(JSON.stringify({ u: claims.user, g: claims.epoch, e: claims.expiresMs, n: randomBytes(8).toString('base64url') })).toString('base64url');
    return `${PREFIX}${payload}.${this.mac(payload).toString('base64url')}`;
  }

  /** The token's claims; NOT_AUTHENTICATED for a forged or malformed token, EXPIRED_SESSION when too old. */
  verify(token: string, nowMs: number): TokenClaims {
    let claims = this.verified.get(token);
    if (claims === undefined) {
      claims = this.decode(token);
      if (this.verified.size >= 10_000) this.verified.clear();
      this.verified.set(token, claims);
    }
    const graceOver = claims.previous && (this.keys.previous === undefined || this.keys.previous.untilMs <= nowMs);
    if (claims.expiresMs <= nowMs || graceOver) {
      this.verified.delete(token);
      throw new DbError('EXPIRED_SESSION', graceOver ? 'the session was signed with a retired secret' : 'the session token has expired', { hint: 'log in again' });
    }
    return { user: claims.user, epoch: claims.epoch, expiresMs: claims.expiresMs };
  }

  private decode(token: string): TokenClaims & { readonly previous: boolean } {
    const bad = (): DbError => new DbError('NOT_AUTHENTICATED', 'the session token is not valid', { hint: 'log in again to get a new token' });
    if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS || !token.startsWith(PREFIX)) throw bad();
    const [payload, mac, extra] = token.slice(PREFIX.length).split('.');
    if (payload === undefined || mac === undefined || extra !== undefined) throw bad();
    const given = Buffer.from(mac, 'base64url');
    const matches = (secret: Buffer): boolean => {
      const expected = this.mac(payload, secret);
      return given.length === expected.length && timingSafeEqual(given, expected);
    };
    let previous = false;
    if (!matches(this.keys.current)) {
      if (this.keys.previous === undefined || !matches(this.keys.previous.secret)) throw bad();
      previous = true;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw bad();
    }
    const p = parsed as { u?: unknown; g?: unknown; e?: unknown };
    if (typeof p.u !== 'string' || typeof p.g !== 'number' || typeof p.e !== 'number') throw bad();
    return { user: p.u, epoch: p.g, expiresMs: p.e, previous };
  }
}
