/**
 * What each user is doing on this node: the client connections its calls arrived on (both
 * protocols) and the records it read and wrote per second. It enforces the two per-user limits
 * (a role's read/write quota, records per second; `security.maxConnectionsPerUser`) and gives
 * the figures Aerospike's QUERY_USERS reports (`conns_in_use`, the read/write "TPS").
 *
 * A connection counts for a user from its first authenticated call as that user until it
 * closes (an Aerospike-protocol connection from its LOGIN/AUTHENTICATE; a gRPC connection from
 * the first call carrying that user's credentials — one HTTP/2 connection may carry several
 * users and counts for each).
 */
import { DbError } from '../errors/index.ts';

/** A user's figures on this node. */
export interface UserUsage {
  /** Client connections open now that carried this user's calls. */
  readonly connections: number;
  /** Records read by single-record and batch calls in the last whole second. */
  readonly readsPerSecond: number;
  /** Records written by single-record and batch calls in the last whole second. */
  readonly writesPerSecond: number;
}

interface Counts {
  /** Start of the second being counted (ms). */
  windowMs: number;
  reads: number;
  writes: number;
  /** The whole second before `windowMs`. */
  lastReads: number;
  lastWrites: number;
}

export class UserActivity {
  private readonly now: () => number;
  private maxConnections: number;
  /** user → connections open now. */
  private readonly byUser = new Map<string, Set<string>>();
  /** connection → users it carried. */
  private readonly byConnection = new Map<string, Set<string>>();
  private readonly counts = new Map<string, Counts>();

  /** `maxConnectionsPerUser` 0: no limit. */
  constructor(now: () => number, maxConnectionsPerUser = 0) {
    this.now = now;
    this.maxConnections = maxConnectionsPerUser;
  }

  /** Changes the per-user connection limit (0: none); connections open beyond it stay open. */
  setMaxConnectionsPerUser(max: number): void {
    this.maxConnections = max;
  }

  /**
   * Counts `connection` for `user` (idempotent). Returns true when the connection was not known
   * at all before (the caller then arranges `detach` when it closes). QUOTA_EXCEEDED (83) when
   * the user already has the most connections a user may have open on this node.
   */
  attach(user: string, connection: string): boolean {
    const users = this.byConnection.get(connection);
    if (users?.has(user) === true) return false;
    let mine = this.byUser.get(user);
    const open = mine?.size ?? 0;
    if (this.maxConnections > 0 && open >= this.maxConnections) {
      throw new DbError('QUOTA_EXCEEDED', `user '${user}' has ${open} connections open on this node, the most one user may open (${this.maxConnections})`, {
        hint: 'close idle connections (a smaller client pool), or raise security.maxConnectionsPerUser',
      });
    }
    if (mine === undefined) this.byUser.set(user, (mine = new Set()));
    mine.add(connection);
    if (users === undefined) {
      this.byConnection.set(connection, new Set([user]));
      return true;
    }
    users.add(user);
    return false;
  }

  /** The connection closed: it no longer counts for any user. */
  detach(connection: string): void {
    const users = this.byConnection.get(connection);
    if (users === undefined) return;
    this.byConnection.delete(connection);
    for (const user of users) {
      const mine = this.byUser.get(user);
      mine?.delete(connection);
      if (mine?.size === 0) this.byUser.delete(user);
    }
  }

  /**
   * Counts records read or written by a user in this second; QUOTA_EXCEEDED (83) past `quota`
   * (0: no quota). Refused records are counted too (they were asked for).
   */
  count(user: string, kind: 'read' | 'write', records: number, quota: number): void {
    const c = this.current(user);
    const used = kind === 'read' ? (c.reads += records) : (c.writes += records);
    if (quota > 0 && used > quota) {
      throw new DbError('QUOTA_EXCEEDED', `user '${user}' passed its ${kind} quota of ${quota} records per second`, { hint: 'slow down, or raise the quota of one of its roles (SET QUOTAS)' });
    }
  }

  usage(user: string): UserUsage {
    const c = this.counts.get(user);
    const windowMs = this.windowOf(this.now());
    const last = c === undefined ? undefined
      : c.windowMs === windowMs ? { reads: c.lastReads, writes: c.lastWrites }
        : c.windowMs === windowMs - 1000 ? { reads: c.reads, writes: c.writes } : undefined;
    return { connections: this.byUser.get(user)?.size ?? 0, readsPerSecond: last?.reads ?? 0, writesPerSecond: last?.writes ?? 0 };
  }

  private windowOf(ms: number): number {
    return ms - (ms % 1000);
  }

  private current(user: string): Counts {
    const windowMs = this.windowOf(this.now());
    let c = this.counts.get(user);
    if (c === undefined) {
      if (this.counts.size >= 100_000) this.forgetIdle(windowMs);
      c = { windowMs, reads: 0, writes: 0, lastReads: 0, lastWrites: 0 };
      this.counts.set(user, c);
    } else if (c.windowMs !== windowMs) {
      const previous = c.windowMs === windowMs - 1000;
      c.lastReads = previous ? c.reads : 0;
      c.lastWrites = previous ? c.writes : 0;
      c.windowMs = windowMs;
      c.reads = 0;
      c.writes = 0;
    }
    return c;
  }

  /** Drops the counts of users with no call in the last two seconds (bounds the map). */
  private forgetIdle(windowMs: number): void {
    for (const [user, c] of this.counts) if (c.windowMs < windowMs - 1000) this.counts.delete(user);
  }
}
