/**
 * Users and roles, kept in system metadata (so every node that has the store has them):
 * module `security-users` maps a user name to its roles and password hash, module
 * `security-roles` maps a user-defined role to its privileges, address allow-list and
 * quotas. Every privilege name is also a predefined global role, as in Aerospike.
 * Validation lives here, so gRPC, AQL and the Aerospike protocol refuse the same things.
 */
import { isIP } from 'node:net';
import { DbError } from '../errors/index.ts';
import type { JsonValue, SmdModule, SystemMetadataStore } from '../storage/system-metadata.ts';
import { hashCredential, verifyCredential, type PasswordHash } from './passwords.ts';
import { checkPrivilege, isPrivilegeName, PRIVILEGE_NAMES, samePrivilege, type Privilege } from './privileges.ts';

export const MAX_NAME_BYTES = 63;

export interface UserRecord {
  readonly roles: readonly string[];
  readonly password: PasswordHash;
  /** Raised on every password change: session tokens of an older epoch stop working. */
  readonly epoch: number;
  /** The first admin's password must be changed before it may do anything else. */
  readonly mustChangePassword: boolean;
}

export interface RoleRecord {
  readonly privileges: readonly Privilege[];
  /** Client addresses (IPs or CIDR blocks) allowed to use the role; empty: any. */
  readonly whitelist: readonly string[];
  /** Records read / written per second per user holding the role; 0: no limit. */
  readonly readQuota: number;
  readonly writeQuota: number;
}

export interface UserView {
  readonly name: string;
  readonly roles: readonly string[];
  readonly mustChangePassword: boolean;
}

/**
 * The quotas a set of roles gives a user: a role without a quota (0) makes it unlimited,
 * otherwise the largest of the roles' quotas (0 in the result: no limit).
 */
export function quotasOf(roles: readonly RoleRecord[]): { readonly readQuota: number; readonly writeQuota: number } {
  let readQuota = 0;
  let writeQuota = 0;
  let unlimitedReads = false;
  let unlimitedWrites = false;
  for (const role of roles) {
    if (role.readQuota === 0) unlimitedReads = true; else readQuota = Math.max(readQuota, role.readQuota);
    if (role.writeQuota === 0) unlimitedWrites = true; else writeQuota = Math.max(writeQuota, role.writeQuota);
  }
  return { readQuota: unlimitedReads ? 0 : readQuota, writeQuota: unlimitedWrites ? 0 : writeQuota };
}

export interface RoleView extends RoleRecord {
  readonly name: string;
  readonly predefined: boolean;
}

function checkName(kind: 'user' | 'role', name: string): void {
  if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name) > MAX_NAME_BYTES || /[\u0000-\u001f;:,]/.test(name)) {
    throw new DbError(kind === 'user' ? 'INVALID_USER' : 'INVALID_ROLE', `invalid ${kind} name ${JSON.stringify(name)}`,
      { hint: `use 1 to ${MAX_NAME_BYTES} bytes without control characters, commas, colons or semicolons` });
  }
}

/** Checks one allow-list entry: an IPv4/IPv6 address, or one with a /prefix. */
export function checkWhitelistEntry(entry: string): string {
  const [addr, prefix, extra] = entry.trim().split('/');
  const family = isIP(addr ?? '');
  const bits = family === 4 ? 32 : 128;
  const ok = family !== 0 && extra === undefined && (prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= bits));
  if (!ok) {
    throw new DbError('INVALID_WHITELIST', `invalid address in the allow-list: ${JSON.stringify(entry)}`, { hint: 'give IPv4 or IPv6 addresses, optionally with a /prefix (10.0.0.0/8)' });
  }
  return entry.trim();
}

function checkQuota(q: number, which: string): number {
  if (!Number.isInteger(q) || q < 0 || q > 0xffffffff) {
    throw new DbError('INVALID_QUOTA', `${which} quota ${q} is not valid`, { hint: 'give a whole number of records per second, 0 for no limit' });
  }
  return q;
}

const toJson = (v: UserRecord | RoleRecord): JsonValue => JSON.parse(JSON.stringify(v)) as JsonValue;

/** The accounts of one node: users and roles over its system metadata. */
export class Accounts {
  private readonly users: SmdModule<JsonValue>;
  private readonly roles: SmdModule<JsonValue>;

  constructor(smd: SystemMetadataStore) {
    this.users = smd.module('security-users');
    this.roles = smd.module('security-roles');
  }

  user(name: string): UserRecord | undefined {
    return this.users.get(name)?.value as UserRecord | undefined;
  }

  listUsers(): UserView[] {
    return this.users.list().map((e) => {
      const u = e.value as unknown as UserRecord;
      return { name: e.key, roles: [...u.roles], mustChangePassword: u.mustChangePassword };
    });
  }

  hasUsers(): boolean {
    return this.users.list().length > 0;
  }

  /** A role, predefined (one per privilege, global) or user-defined. */
  role(name: string): RoleView | undefined {
    if (isPrivilegeName(name)) return { name, predefined: true, privileges: [{ name }], whitelist: [], readQuota: 0, writeQuota: 0 };
    const r = this.roles.get(name)?.value as RoleRecord | undefined;
    return r === undefined ? undefined : { name, predefined: false, ...r };
  }

  listRoles(): RoleView[] {
    const predefined = PRIVILEGE_NAMES.map((n) => this.role(n) as RoleView);
    return [...predefined, ...this.roles.list().map((e) => this.role(e.key) as RoleView)];
  }

  private checkRoles(roles: readonly string[]): string[] {
    const unique = [...new Set(roles)];
    for (const r of unique) {
      checkName('role', r);
      if (this.role(r) === undefined) throw new DbError('INVALID_ROLE', `no role named '${r}'`, { hint: 'create it with CREATE ROLE first, or use a predefined role (SHOW ROLES lists them)' });
    }
    return unique;
  }

  /**
   * Creates a user. `asDefault` writes it as this node's start-up default (system metadata
   * generation 0): on a cluster it never replaces a user of that name the cluster already has,
   * nor brings back one the cluster dropped.
   */
  async createUser(name: string, credential: string, roles: readonly string[], mustChangePassword = false, asDefault = false): Promise<void> {
    checkName('user', name);
    const checked = this.checkRoles(roles);
    const password = await hashCredential(credential);
    if (asDefault) {
      await this.users.setDefault(name, toJson({ roles: checked, password, epoch: 1, mustChangePassword }));
      return;
    }
    let existed = false;
    await this.users.update(name, (cur) => {
      if (cur !== undefined) { existed = true; return cur; }
      return toJson({ roles: checked, password, epoch: 1, mustChangePassword });
    });
    if (existed) throw new DbError('USER_ALREADY_EXISTS', `user '${name}' already exists`, { hint: 'choose another name, or DROP USER first' });
  }

  async dropUser(name: string): Promise<void> {
    checkName('user', name);
    if (!(await this.users.delete(name))) throw new DbError('INVALID_USER', `no user named '${name}'`, { hint: 'SHOW USERS lists them' });
  }

  private async changeUser(name: string, fn: (u: UserRecord) => UserRecord): Promise<UserRecord> {
    checkName('user', name);
    let missing = false;
    const entry = await this.users.update(name, (cur) => {
      if (cur === undefined) { missing = true; return undefined; }
      return toJson(fn(cur as unknown as UserRecord));
    });
    if (missing || entry === undefined) throw new DbError('INVALID_USER', `no user named '${name}'`, { hint: 'SHOW USERS lists them' });
    return entry.value as unknown as UserRecord;
  }

  async setPassword(name: string, credential: string): Promise<void> {
    const password = await hashCredential(credential);
    await this.changeUser(name, (u) => ({ ...u, password, epoch: u.epoch + 1, mustChangePassword: false }));
  }

  async grantRoles(name: string, roles: readonly string[]): Promise<void> {
    const add = this.checkRoles(roles);
    await this.changeUser(name, (u) => ({ ...u, roles: [...new Set([...u.roles, ...add])] }));
  }

  async revokeRoles(name: string, roles: readonly string[]): Promise<void> {
    const remove = new Set(roles);
    await this.changeUser(name, (u) => ({ ...u, roles: u.roles.filter((r) => !remove.has(r)) }));
  }

  /** Checks a credential against the stored hash; false for an unknown user too. */
  async verify(name: string, credential: string): Promise<UserRecord | undefined> {
    const u = this.user(name);
    if (u === undefined) return undefined;
    return (await verifyCredential(credential, u.password)) ? u : undefined;
  }

  async createRole(name: string, privileges: readonly Privilege[], whitelist: readonly string[] = [], readQuota = 0, writeQuota = 0): Promise<void> {
    checkName('role', name);
    if (isPrivilegeName(name)) throw new DbError('ROLE_ALREADY_EXISTS', `'${name}' is a predefined role`, { hint: 'choose another name' });
    if (privileges.length === 0 && whitelist.length === 0) throw new DbError('INVALID_PRIVILEGE', 'a role needs privileges or an allow-list', { hint: 'give PRIVILEGES, WHITELIST, or both' });
    const record: RoleRecord = {
      privileges: dedupe(privileges.map(checkPrivilege)),
      whitelist: whitelist.map(checkWhitelistEntry),
      readQuota: checkQuota(readQuota, 'read'),
      writeQuota: checkQuota(writeQuota, 'write'),
    };
    let existed = false;
    await this.roles.update(name, (cur) => {
      if (cur !== undefined) { existed = true; return cur; }
      return toJson(record);
    });
    if (existed) throw new DbError('ROLE_ALREADY_EXISTS', `role '${name}' already exists`, { hint: 'choose another name, or DROP ROLE first' });
  }

  async dropRole(name: string): Promise<void> {
    checkName('role', name);
    if (isPrivilegeName(name)) throw new DbError('INVALID_ROLE', `'${name}' is a predefined role and cannot be dropped`, { hint: 'drop a role you created' });
    if (!(await this.roles.delete(name))) throw new DbError('INVALID_ROLE', `no role named '${name}'`, { hint: 'SHOW ROLES lists them' });
    // users keep no dangling grants
    for (const u of this.listUsers()) {
      if (u.roles.includes(name)) await this.revokeRoles(u.name, [name]);
    }
  }

  private async changeRole(name: string, fn: (r: RoleRecord) => RoleRecord): Promise<void> {
    checkName('role', name);
    if (isPrivilegeName(name)) throw new DbError('INVALID_ROLE', `'${name}' is a predefined role and cannot be changed`, { hint: 'create a role of your own' });
    let missing = false;
    await this.roles.update(name, (cur) => {
      if (cur === undefined) { missing = true; return undefined; }
      return toJson(fn(cur as unknown as RoleRecord));
    });
    if (missing) throw new DbError('INVALID_ROLE', `no role named '${name}'`, { hint: 'SHOW ROLES lists them' });
  }

  async grantPrivileges(name: string, privileges: readonly Privilege[]): Promise<void> {
    const add = privileges.map(checkPrivilege);
    await this.changeRole(name, (r) => ({ ...r, privileges: dedupe([...r.privileges, ...add]) }));
  }

  async revokePrivileges(name: string, privileges: readonly Privilege[]): Promise<void> {
    const remove = privileges.map(checkPrivilege);
    await this.changeRole(name, (r) => ({ ...r, privileges: r.privileges.filter((p) => !remove.some((x) => samePrivilege(p, x))) }));
  }

  async setWhitelist(name: string, whitelist: readonly string[]): Promise<void> {
    const list = whitelist.map(checkWhitelistEntry);
    await this.changeRole(name, (r) => ({ ...r, whitelist: list }));
  }

  async setQuotas(name: string, readQuota: number, writeQuota: number): Promise<void> {
    const rq = checkQuota(readQuota, 'read');
    const wq = checkQuota(writeQuota, 'write');
    await this.changeRole(name, (r) => ({ ...r, readQuota: rq, writeQuota: wq }));
  }
}

function dedupe(ps: readonly Privilege[]): Privilege[] {
  const out: Privilege[] = [];
  for (const p of ps) if (!out.some((q) => samePrivilege(p, q))) out.push(p);
  return out;
}

