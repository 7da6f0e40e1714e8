/**
 * The security subsystem of a node: who may connect (users, passwords, session tokens, role
 * allow-lists), what they may do (privileges scoped to namespace and set, quotas), and the
 * audit trail. Protocol front ends (gRPC, AQL, the Aerospike protocol) call `authenticate`
 * once per call and `authorize` per namespace/set the call touches; everything they refuse
 * uses Aerospike's result codes (NOT_AUTHENTICATED 80, ROLE_VIOLATION 81, …).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { BlockList, isIPv6 } from 'node:net';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DbError } from '../errors/index.ts';
import type { Clock, Logger } from '../plugin-api/index.ts';
import type { SystemMetadataStore } from '../storage/system-metadata.ts';
import { Accounts, quotasOf, type RoleRecord, type UserRecord } from './accounts.ts';
import { AuditLog, type AuditEvent, type AuditEventKind, type AuditSink } from './audit-log.ts';
import type { SecurityConfig } from './config.ts';
import { LoginThrottle } from './login-throttle.ts';
import { credentialOf, isCredential } from './passwords.ts';
import { grants, type Permission, type Privilege } from './privileges.ts';
import { SessionTokens, type TokenKeys } from './session-tokens.ts';
import { UserActivity } from './user-activity.ts';

/** What a caller presents: a session token, or a user with a clear password or an Aerospike credential. */
/** A secret: a clear password (gRPC, AQL) or an Aerospike client credential (the bcrypt hash the wire protocol sends). */
export type Secret = { readonly password: string } | { readonly credential: string };

export type Credentials =
  | { readonly token: string }
  | { readonly user: string; readonly password: string }
  | { readonly user: string; readonly credential: string };

/** An authenticated caller, with the privileges usable from its address. */
export interface Principal {
  readonly user: string;
  readonly roles: readonly string[];
  readonly privileges: readonly Privilege[];
  readonly readQuota: number;
  readonly writeQuota: number;
  readonly mustChangePassword: boolean;
  /** The password epoch the principal was built for. */
  readonly epoch: number;
}

export interface LoginResult {
  readonly token: string;
  readonly ttlSeconds: number;
  readonly mustChangePassword: boolean;
}

const SECRET_MODULE = 'security';
const SECRET_KEY = 'session-secret';
/** The retired secret and until when its tokens are accepted: `<base64>@<ms since the epoch>`. */
const PREVIOUS_SECRET_KEY = 'previous-session-secret';

/** The token keys as system metadata holds them. */
function tokenKeys(smd: SystemMetadataStore): TokenKeys | undefined {
  const m = smd.module<string>(SECRET_MODULE);
  const current = m.get(SECRET_KEY)?.value;
  if (current === undefined) return undefined;
  const prev = m.get(PREVIOUS_SECRET_KEY)?.value;
  const at = prev === undefined ? -1 : prev.lastIndexOf('@');
  const previous = prev === undefined || at < 0 ? undefined : { secret: Buffer.from(prev.slice(0, at), 'base64'), untilMs: Number(prev.slice(at + 1)) };
  return { current: Buffer.from(current, 'base64'), ...(previous === undefined || !Number.isFinite(previous.untilMs) ? {} : { previous }) };
}
/** How long a user/password pair presented with each call stays verified. */
const PASSWORD_CACHE_MS = 60_000;

/** Changes to these system metadata modules are audited, with the user whose call made them. */
const AUDITED_MODULES: Readonly<Record<string, readonly [AuditEventKind, AuditEventKind]>> = {
  udf: ['udf-registered', 'udf-removed'],
  sindex: ['index-created', 'index-dropped'],
  truncate: ['truncate', 'truncate'],
};

/** Who is calling, for the duration of one call's handler. */
export interface CallIdentity {
  readonly user: string;
  readonly address: string;
  /** The authenticated caller; absent for calls that need none (Login). */
  readonly principal?: Principal;
}

/** The name of the first user, created when security is on and no user exists. */
export const FIRST_ADMIN = 'admin';

export class Security {
  readonly accounts: Accounts;
  readonly audit: AuditSink;
  readonly config: SecurityConfig;
  private readonly tokens: SessionTokens;
  private readonly clock: Clock;
  private readonly throttle = new LoginThrottle();
  private readonly principals = new Map<string, Principal>();
  private readonly passwordCache = new Map<string, { user: string; epoch: number; untilMs: number }>();
  private readonly unwatch: () => void;
  private readonly smd: SystemMetadataStore;
  /** The identity of the call being served, so subsystem changes are audited with who made them. */
  readonly calls = new AsyncLocalStorage<CallIdentity>();
  /** Each user's connections and records per second on this node (and the per-user limits on them). */
  readonly activity: UserActivity;

  private constructor(accounts: Accounts, audit: AuditSink, config: SecurityConfig, tokens: SessionTokens, clock: Clock, smd: SystemMetadataStore) {
    this.accounts = accounts;
    this.audit = audit;
    this.config = config;
    this.tokens = tokens;
    this.clock = clock;
    this.smd = smd;
    this.activity = new UserActivity(() => clock.now(), config.maxConnectionsPerUser);
    // a change to any user or role, on this node or synchronised from another, applies at once
    this.unwatch = smd.watch((c) => {
      if (c.module === 'security-users' || c.module === 'security-roles') {
        this.principals.clear();
        this.passwordCache.clear();
      }
      if (c.module === SECRET_MODULE) {
        const keys = tokenKeys(smd);
        if (keys !== undefined) this.tokens.setKeys(keys);
      }
      const kinds = AUDITED_MODULES[c.module];
      // audited where the change was made (a copy merged from another node is not a new change)
      if (kinds !== undefined && c.origin === 'local') {
        const who = this.calls.getStore();
        this.record({ event: c.entry === undefined ? kinds[1] : kinds[0], ...(who === undefined ? {} : { user: who.user, address: who.address }), outcome: 'ok', detail: { name: c.key } });
      }
    });
  }

  /** Opens the subsystem over the node's system metadata; creates the session secret and the first admin when missing. */
  static async open(options: { readonly smd: SystemMetadataStore; readonly config: SecurityConfig; readonly logger: Logger; readonly clock: Clock }): Promise<Security> {
    const { smd, config, logger, clock } = options;
    const secrets = smd.module<string>(SECRET_MODULE);
    // a default: on a cluster, the secret the cluster already has wins over a new node's own
    if (tokenKeys(smd) === undefined) await secrets.setDefault(SECRET_KEY, SessionTokens.newSecret().toString('base64'));
    const keys = tokenKeys(smd) as TokenKeys;
    const audit = new AuditLog({ ...(config.auditFile === undefined ? {} : { file: config.auditFile }), logger: logger.child({ component: 'audit' }), now: () => clock.now() });
    const security = new Security(new Accounts(smd), audit, config, new SessionTokens(keys), clock, smd);
    if (!security.accounts.hasUsers()) {
      const given = config.adminPassword;
      const roles = ['user-admin', 'sys-admin', 'data-admin', 'read-write-udf'];
      await security.accounts.createUser(FIRST_ADMIN, await credentialOf(given ?? 'admin'), roles, given === undefined, true);
      // no user at all (the first admin was dropped here once): never lock everyone out
      if (!security.accounts.hasUsers()) await security.accounts.createUser(FIRST_ADMIN, await credentialOf(given ?? 'admin'), roles, given === undefined);
      logger.warn({ user: FIRST_ADMIN, mustChangePassword: given === undefined },
        given === undefined
          ? 'security: created user admin with password "admin"; it must be changed (SET PASSWORD) before admin can do anything else'
          : 'security: created user admin with the configured password');
    }
    return security;
  }

  async close(): Promise<void> {
    this.unwatch();
    await this.audit.close();
  }

  record(event: AuditEvent): void {
    this.audit.record(event);
  }

  private now(): number {
    return this.clock.now();
  }

  /** Checks a user's secret; throws INVALID_USER / INVALID_PASSWORD after the throttle's delay. */
  private async checkSecret(user: string, secret: Secret, address: string): Promise<UserRecord> {
    if (typeof user !== 'string' || user.length === 0) throw new DbError('INVALID_USER', 'no user name was given', { hint: 'give a user name and a password' });
    const credential = 'credential' in secret ? secret.credential : await credentialOf(secret.password);
    if (typeof credential !== 'string' || !isCredential(credential)) throw new DbError('INVALID_CREDENTIAL', 'the credential is not valid', { hint: 'send the password, or its bcrypt hash as Aerospike clients do' });
    const record = await this.accounts.verify(user, credential);
    if (record === undefined) {
      const known = this.accounts.user(user) !== undefined;
      const delay = this.throttle.failed(address, this.now());
      this.record({ event: 'login-failed', user, address, outcome: 'refused', resultCode: known ? 62 : 60, detail: { failures: this.throttle.failures(address) } });
      if (delay > 0) await sleep(delay);
      throw known
        ? new DbError('INVALID_PASSWORD', `wrong password for user '${user}'`, { hint: 'check the password; repeated failures from one address are slowed down' })
        : new DbError('INVALID_USER', `no user named '${user}'`, { hint: 'check the user name; repeated failures from one address are slowed down' });
    }
    this.throttle.succeeded(address);
    return record;
  }

  /** Logs a user in: a session token valid on every node that shares this node's system metadata. */
  async login(user: string, secret: Secret, address: string): Promise<LoginResult> {
    const record = await this.checkSecret(user, secret, address);
    const principal = this.principalOf(user, record, address);
    const ttlSeconds = this.config.sessionTtlSeconds;
    const token = this.tokens.issue({ user, epoch: record.epoch, expiresMs: this.now() + ttlSeconds * 1000 });
    this.record({ event: 'login', user, address, outcome: 'ok' });
    return { token, ttlSeconds, mustChangePassword: principal.mustChangePassword };
  }

  /** The caller behind a call's credentials; NOT_AUTHENTICATED without any. */
  async authenticate(credentials: Credentials | undefined, address: string): Promise<Principal> {
    if (credentials === undefined) {
      throw new DbError('NOT_AUTHENTICATED', 'this node requires authentication', { hint: 'log in (Login, or aql -U user -P) and send the token as "authorization: Bearer <token>", or send user and password metadata' });
    }
    try {
      if ('token' in credentials) {
        const claims = this.tokens.verify(credentials.token, this.now());
        const cached = this.principals.get(`${claims.user}\u0000${address}`);
        if (cached !== undefined && cached.epoch === claims.epoch) return cached;
        return this.sessionPrincipal(claims.user, claims.epoch, address);
      }
      const key = createHash('sha256').update(credentials.user).update('\u0000').update('password' in credentials ? credentials.password : credentials.credential).digest('base64');
      const hit = this.passwordCache.get(key);
      if (hit !== undefined && hit.untilMs > this.now()) {
        const record = this.accounts.user(hit.user);
        if (record !== undefined && record.epoch === hit.epoch) return this.principalOf(hit.user, record, address);
      }
      const record = await this.checkSecret(credentials.user, credentials, address);
      if (this.passwordCache.size > 10_000) this.passwordCache.clear();
      this.passwordCache.set(key, { user: credentials.user, epoch: record.epoch, untilMs: this.now() + PASSWORD_CACHE_MS });
      return this.principalOf(credentials.user, record, address);
    } catch (err) {
      this.auditRefusal(err, address);
      throw err;
    }
  }

  /** Records a refused authentication (not a wrong password: checkSecret records those). */
  private auditRefusal(err: unknown, address: string, user?: string): void {
    if (err instanceof DbError && (err.code === 'NOT_AUTHENTICATED' || err.code === 'EXPIRED_SESSION' || err.code === 'NOT_WHITELISTED')) {
      this.record({ event: 'authentication-failed', ...(user === undefined ? {} : { user }), address, outcome: 'refused', resultCode: err.resultCode });
    }
  }

  /** The principal of a session of `user` begun at password epoch `epoch`; EXPIRED_SESSION once the user is dropped or its password changed. */
  private sessionPrincipal(user: string, epoch: number, address: string): Principal {
    const record = this.accounts.user(user);
    if (record === undefined || record.epoch !== epoch) {
      throw new DbError('EXPIRED_SESSION', 'the session is no longer valid (the user was removed or its password changed)', { hint: 'log in again' });
    }
    return this.principalOf(user, record, address);
  }

  /**
   * The principal as it stands now: a connection that authenticated once (the Aerospike protocol)
   * sees role and privilege changes at once, and loses access when its user is dropped or its
   * password changes.
   */
  current(principal: Principal, address: string): Principal {
    try {
      return this.sessionPrincipal(principal.user, principal.epoch, address);
    } catch (err) {
      this.auditRefusal(err, address, principal.user);
      throw err;
    }
  }

  /** The user's privileges usable from `address` (roles whose allow-list excludes it do not count). */
  private principalOf(user: string, record: UserRecord, address: string): Principal {
    const cacheKey = `${user}\u0000${address}`;
    const cached = this.principals.get(cacheKey);
    if (cached !== undefined && cached.epoch === record.epoch) return cached;
    const privileges: Privilege[] = [];
    const usable: RoleRecord[] = [];
    for (const name of record.roles) {
      const role = this.accounts.role(name);
      if (role === undefined) continue;
      if (role.whitelist.length > 0 && !allowedFrom(role.whitelist, address)) continue;
      usable.push(role);
      privileges.push(...role.privileges);
    }
    if (record.roles.length > 0 && usable.length === 0) {
      throw new DbError('NOT_WHITELISTED', `user '${user}' may not connect from ${address}`, { hint: "connect from an address in one of the user's roles' allow-lists" });
    }
    const principal: Principal = {
      user,
      roles: record.roles,
      privileges,
      ...quotasOf(usable),
      mustChangePassword: record.mustChangePassword,
      epoch: record.epoch,
    };
    if (this.principals.size > 10_000) this.principals.clear();
    this.principals.set(cacheKey, principal);
    return principal;
  }

  /** Throws ROLE_VIOLATION unless the principal holds `permission` on the namespace/set. */
  authorize(principal: Principal, permission: Permission, namespace?: string, set?: string, what?: string, address?: string): void {
    if (principal.mustChangePassword) {
      throw new DbError('EXPIRED_PASSWORD', `user '${principal.user}' must change its password first`, { hint: `SET PASSWORD <new> FOR ${principal.user} (or the ChangePassword call)` });
    }
    if (permission === 'info') return;
    if (principal.privileges.some((p) => grants(p, permission, namespace, set))) return;
    const scope = namespace === undefined ? '' : ` on ${namespace}${set === undefined || set === '' ? '' : `.${set}`}`;
    this.record({ event: 'permission-denied', user: principal.user, ...(address === undefined ? {} : { address }), outcome: 'refused', resultCode: 81, detail: { permission, ...(what === undefined ? {} : { operation: what }), ...(namespace === undefined ? {} : { namespace }), ...(set === undefined ? {} : { set }) } });
    throw new DbError('ROLE_VIOLATION', `user '${principal.user}' lacks the ${permission} permission${scope}${what === undefined ? '' : ` (${what})`}`, { hint: `grant the user a role with a privilege that includes ${permission}${scope} (SHOW ROLES lists them)` });
  }

  /** Counts records read or written against the user's quota; QUOTA_EXCEEDED past it within one second. */
  admit(principal: Principal, kind: 'read' | 'write', records = 1): void {
    this.activity.count(principal.user, kind, records, kind === 'read' ? principal.readQuota : principal.writeQuota);
  }

  /**
   * Replaces the session-signing secret (user-admin). With no grace every session ends at once;
   * with a grace period, tokens signed with the previous secret stay valid that long (their own
   * expiry still applies). New tokens are signed with the new secret at once, on every node that
   * shares the system metadata.
   */
  async rotateSessionSecret(actor: Principal, address: string, graceSeconds: number): Promise<void> {
    this.authorize(actor, 'user-admin', undefined, undefined, 'rotate session secret', address);
    if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > 86_400) {
      throw new DbError('PARAMETER', `grace period ${graceSeconds} s is out of range`, { hint: 'give whole seconds from 0 (every session ends now) to 86400' });
    }
    const m = this.smd.module<string>(SECRET_MODULE);
    const current = m.get(SECRET_KEY)?.value;
    if (graceSeconds > 0 && current !== undefined) await m.set(PREVIOUS_SECRET_KEY, `${current}@${this.now() + graceSeconds * 1000}`);
    else await m.delete(PREVIOUS_SECRET_KEY);
    await m.set(SECRET_KEY, SessionTokens.newSecret().toString('base64'));
    this.tokens.setKeys(tokenKeys(this.smd) as TokenKeys);
    this.record({ event: 'session-secret-rotated', user: actor.user, address, outcome: 'ok', detail: { graceSeconds } });
  }

  /**
   * Changes a password: a user-admin for anyone, any user for itself with its current password;
   * ends the user's sessions. Passwords come clear (gRPC, AQL) or as the Aerospike clients'
   * credential (the wire protocol); a string is a clear password.
   */
  async setPassword(actor: Principal, user: string, password: string | Secret, address: string, oldPassword?: string | Secret): Promise<void> {
    const secret = (s: string | Secret): Secret => (typeof s === 'string' ? { password: s } : s);
    const given = (s: string | Secret | undefined): s is string | Secret => s !== undefined && (typeof s === 'string' ? s !== '' : ('password' in s ? s.password : s.credential) !== '');
    const admin = actor.privileges.some((p) => grants(p, 'user-admin'));
    if (actor.user !== user) {
      this.authorize(actor, 'user-admin', undefined, undefined, 'set password', address);
    } else if (!admin && !actor.mustChangePassword) {
      // changing one's own password proves the old one (a stolen session token is not enough);
      // a user whose password must change has just logged in with it, a user-admin may set any
      if (!given(oldPassword)) throw new DbError('INVALID_PASSWORD', 'changing your own password needs the current one', { hint: 'send the current password as old_password (SecurityService.SetPassword), or ask a user-admin' });
      await this.checkSecret(user, secret(oldPassword), address);
    } else if (given(oldPassword)) {
      await this.checkSecret(user, secret(oldPassword), address);
    }
    const next = secret(password);
    const credential = 'credential' in next ? next.credential : await credentialOf(next.password);
    if (!isCredential(credential)) throw new DbError('INVALID_CREDENTIAL', 'the new credential is not valid', { hint: 'send the password, or its bcrypt hash as Aerospike clients do' });
    await this.accounts.setPassword(user, credential);
    this.record({ event: 'password-set', user: actor.user, address, outcome: 'ok', detail: { target: user } });
  }
}

/** Whether an address matches an allow-list of addresses and CIDR blocks. */
export function allowedFrom(whitelist: readonly string[], address: string): boolean {
  const list = new BlockList();
  for (const entry of whitelist) {
    const [addr, prefix] = entry.split('/') as [string, string?];
    const type = isIPv6(addr) ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(addr, type); else list.addSubnet(addr, Number(prefix), type);
  }
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  return list.check(plain, isIPv6(plain) ? 'ipv6' : 'ipv4');
}
