/**
 * The client's session on a node with security on: logs in with the user and password given to
 * connect(), sends the token with every call (`authorization: Bearer …`), and logs in again when
 * the token has expired or is about to (one minute before its end, as Aerospike's clients do).
 * One session serves every channel of a client: a token is valid on every node.
 */
import { Metadata } from '@grpc/grpc-js';
import { DbError } from '../errors/index.ts';
import { SecurityServiceService, type LoginResponse } from '../wire/generated/slipstream/v1/security.ts';

/** How a session logs in: one Login call on some channel. */
export type LoginCall = (request: { user: string; password: string }) => Promise<LoginResponse>;

export class ClientSession {
  private readonly user: string;
  private readonly password: string;
  private token: string | undefined;
  private renewAtMs = 0;
  private pending: Promise<void> | undefined;
  /** The node answered SECURITY_NOT_ENABLED: calls go without credentials. */
  private disabled = false;

  constructor(user: string, password: string) {
    if (user === '') throw new DbError('CLIENT_PARAM', 'user is empty', { hint: 'give the user name to log in as, or leave user out on a node without security' });
    this.user = user;
    this.password = password;
  }

  static readonly loginMethod = SecurityServiceService.login;

  /** Logs in (again); concurrent callers share one login. */
  login(call: LoginCall): Promise<void> {
    this.pending ??= (async () => {
      try {
        const res = await call({ user: this.user, password: this.password });
        this.token = res.token;
        this.renewAtMs = Date.now() + Math.max(1, res.ttlSeconds - 60) * 1000;
      } catch (err) {
        if (err instanceof DbError && err.code === 'SECURITY_NOT_ENABLED') { this.disabled = true; return; }
        throw err;
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }

  /** Whether the token should be renewed before the next call. */
  get stale(): boolean {
    return !this.disabled && (this.token === undefined || Date.now() >= this.renewAtMs);
  }

  /** Metadata for one call. */
  metadata(): Metadata {
    const md = new Metadata();
    if (this.token !== undefined) md.set('authorization', `Bearer ${this.token}`);
    return md;
  }

  /** Whether a failure means the session must be renewed and the call tried once more. */
  static renews(err: unknown): boolean {
    return err instanceof DbError && (err.code === 'EXPIRED_SESSION' || err.code === 'NOT_AUTHENTICATED');
  }
}
