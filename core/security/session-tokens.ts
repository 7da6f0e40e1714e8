/**
 * Session tokens: what Login hands out and every later call carries
 * (`authorization: Bearer <token>`, or the Aerospike protocol's SESSION_TOKEN). A token is
 * `v1.<payload>.<mac>`: the user, the user's password epoch and an expiry, signed with
 * HMAC-SHA256 under a secret kept in system metadata, so any node holding the same metadata
 * accepts it. A password change raises the epoch and a dropped user is gone, so either ends
 * every session of that user at once.
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

export class SessionTokens {
  private readonly secret: Buffer;
  /** Tokens already checked, so a call pays one map lookup, not an HMAC. */
  private readonly verified = new Map<string, TokenClaims>();

  constructor(secret: Buffer) {
    this.secret = secret;
  }

  static newSecret(): Buffer {
    return randomBytes(32);
  }

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.secret).update(payload).digest();
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
    if (claims.expiresMs <= nowMs) {
      this.verified.delete(token);
      throw new DbError('EXPIRED_SESSION', 'the session token has expired', { hint: 'log in again' });
    }
    return claims;
  }

  private decode(token: string): TokenClaims {
    const bad = (): DbError => new DbError('NOT_AUTHENTICATED', 'the session token is not valid', { hint: 'log in again to get a new token' });
    if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS || !token.startsWith(PREFIX)) throw bad();
    const [payload, mac, extra] = token.slice(PREFIX.length).split('.');
    if (payload === undefined || mac === undefined || extra !== undefined) throw bad();
    const given = Buffer.from(mac, 'base64url');
    const expected = this.mac(payload);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad();
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw bad();
    }
    const p = parsed as { u?: unknown; g?: unknown; e?: unknown };
    if (typeof p.u !== 'string' || typeof p.g !== 'number' || typeof p.e !== 'number') throw bad();
    return { user: p.u, epoch: p.g, expiresMs: p.e };
  }
}
