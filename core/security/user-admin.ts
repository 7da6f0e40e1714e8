/**
 * User and role administration as the protocols offer it (gRPC SecurityService, AQL's
 * CREATE USER … statements, the Aerospike admin messages): each action checks that the actor
 * may do it, changes the accounts, and leaves an audit record, whatever the outcome.
 */
import { DbError, toDbError } from '../errors/index.ts';
import { quotasOf, type RoleRecord, type RoleView, type UserView } from './accounts.ts';
import type { AuditEventKind } from './audit-log.ts';
import { credentialOf } from './passwords.ts';
import { formatPrivilege, grants, type Privilege } from './privileges.ts';
import type { Principal, Secret, Security } from './security.ts';
import type { UserUsage } from './user-activity.ts';

/** A user as listed: its roles, the quotas they give it, and what it is doing on this node. */
export interface UserReport extends UserView {
  readonly readQuota: number;
  readonly writeQuota: number;
  readonly usage: UserUsage;
}


export class UserAdmin {
  private readonly security: Security;

  constructor(security: Security) {
    this.security = security;
  }

  /** Runs an action that needs user-admin, auditing success and failure. */
  private async act(actor: Principal, address: string, event: AuditEventKind, detail: Record<string, string | readonly string[]>, fn: () => Promise<void>): Promise<void> {
    try {
      this.security.authorize(actor, 'user-admin', undefined, undefined, event, address);
      await fn();
      this.security.record({ event, user: actor.user, address, outcome: 'ok', detail });
    } catch (err) {
      const e = toDbError(err);
      if (e.code !== 'ROLE_VIOLATION') this.security.record({ event, user: actor.user, address, outcome: 'failed', resultCode: e.resultCode, detail });
      throw e;
    }
  }

  private static async credential(secret: Secret): Promise<string> {
    return 'credential' in secret ? secret.credential : credentialOf(secret.password);
  }

  createUser(actor: Principal, address: string, user: string, secret: Secret, roles: readonly string[]): Promise<void> {
    return this.act(actor, address, 'user-created', { target: user, roles }, async () => {
      await this.security.accounts.createUser(user, await UserAdmin.credential(secret), roles);
    });
  }

  dropUser(actor: Principal, address: string, user: string): Promise<void> {
    return this.act(actor, address, 'user-dropped', { target: user }, () => this.security.accounts.dropUser(user));
  }

  grantRoles(actor: Principal, address: string, user: string, roles: readonly string[]): Promise<void> {
    return this.act(actor, address, 'roles-granted', { target: user, roles }, () => this.security.accounts.grantRoles(user, roles));
  }

  revokeRoles(actor: Principal, address: string, user: string, roles: readonly string[]): Promise<void> {
    return this.act(actor, address, 'roles-revoked', { target: user, roles }, () => this.security.accounts.revokeRoles(user, roles));
  }

  createRole(actor: Principal, address: string, role: string, privileges: readonly Privilege[], whitelist: readonly string[], readQuota: number, writeQuota: number): Promise<void> {
    return this.act(actor, address, 'role-created', { target: role, privileges: privileges.map(formatPrivilege), whitelist }, () =>
      this.security.accounts.createRole(role, privileges, whitelist, readQuota, writeQuota));
  }

  dropRole(actor: Principal, address: string, role: string): Promise<void> {
    return this.act(actor, address, 'role-dropped', { target: role }, () => this.security.accounts.dropRole(role));
  }

  grantPrivileges(actor: Principal, address: string, role: string, privileges: readonly Privilege[]): Promise<void> {
    return this.act(actor, address, 'privileges-granted', { target: role, privileges: privileges.map(formatPrivilege) }, () => this.security.accounts.grantPrivileges(role, privileges));
  }

  revokePrivileges(actor: Principal, address: string, role: string, privileges: readonly Privilege[]): Promise<void> {
    return this.act(actor, address, 'privileges-revoked', { target: role, privileges: privileges.map(formatPrivilege) }, () => this.security.accounts.revokePrivileges(role, privileges));
  }

  setWhitelist(actor: Principal, address: string, role: string, whitelist: readonly string[]): Promise<void> {
    return this.act(actor, address, 'whitelist-set', { target: role, whitelist }, () => this.security.accounts.setWhitelist(role, whitelist));
  }

  setQuotas(actor: Principal, address: string, role: string, readQuota: number, writeQuota: number): Promise<void> {
    return this.act(actor, address, 'quotas-set', { target: role, quotas: [String(readQuota), String(writeQuota)] }, () => this.security.accounts.setQuotas(role, readQuota, writeQuota));
  }

  /** Users: all for a user-admin, only itself for anyone else. */
  listUsers(actor: Principal, address: string, user?: string): UserReport[] {
    const admin = actor.privileges.some((p) => grants(p, 'user-admin'));
    if (!admin && user !== actor.user) this.security.authorize(actor, 'user-admin', undefined, undefined, 'list users', address);
    const all = this.security.accounts.listUsers();
    const chosen = user === undefined ? all : all.filter((u) => u.name === user);
    if (chosen.length === 0 && user !== undefined) throw new DbError('INVALID_USER', `no user named '${user}'`, { hint: 'SHOW USERS lists them' });
    return chosen.map((u) => this.report(u));
  }

  private report(u: UserView): UserReport {
    const roles = u.roles.map((r) => this.security.accounts.role(r)).filter((r): r is RoleView => r !== undefined) satisfies RoleRecord[];
    return { ...u, ...quotasOf(roles), usage: this.security.activity.usage(u.name) };
  }

  /** Roles: any authenticated user may read them. */
  listRoles(role?: string): RoleView[] {
    if (role === undefined) return this.security.accounts.listRoles();
    const r = this.security.accounts.role(role);
    if (r === undefined) throw new DbError('INVALID_ROLE', `no role named '${role}'`, { hint: 'SHOW ROLES lists them' });
    return [r];
  }
}
