/**
 * The user and role commands of the Aerospike admin protocol, run as the connection's
 * authenticated caller through the same administration as gRPC and AQL (so the same privilege
 * checks and audit records): create/drop user, set/change password, grant/revoke roles, create/
 * drop role, grant/revoke privileges, allow-lists, quotas, and the user and role queries.
 * Passwords arrive as the clients' bcrypt credential and are stored as such (hashed again).
 */
import { DbError } from '../../errors/index.ts';
import type { RoleView } from '../../security/accounts.ts';
import type { Principal, Security } from '../../security/security.ts';
import { UserAdmin, type UserReport } from '../../security/user-admin.ts';
import {
  AdminCommand, AdminField, adminQueryReply, adminReply, figuresField, privilegesField, rolesField, textField, u32Field,
  type AdminFieldList, type AdminRequest,
} from './admin-codec.ts';

/**
 * A user as QUERY_USERS answers it. READ_INFO / WRITE_INFO are Aerospike's four figures: the
 * quota, the single-record (and batch) records per second in the last second, the scan/query
 * records per second and the number of scans/queries running without a rate limit — this node
 * has no per-user scan/query rate limits, so the last two are 0. CONNECTIONS: connections open
 * on this node that carried the user's calls.
 */
function userRow(u: UserReport): AdminFieldList {
  return [
    textField(AdminField.USER, u.name), rolesField(u.roles),
    figuresField(AdminField.READ_INFO, [u.readQuota, u.usage.readsPerSecond, 0, 0]),
    figuresField(AdminField.WRITE_INFO, [u.writeQuota, u.usage.writesPerSecond, 0, 0]),
    u32Field(AdminField.CONNECTIONS, u.usage.connections),
  ];
}

function roleRow(r: RoleView): AdminFieldList {
  const row: Array<readonly [number, Buffer]> = [textField(AdminField.ROLE, r.name), privilegesField(r.privileges)];
  if (r.whitelist.length > 0) row.push(textField(AdminField.WHITELIST, r.whitelist.join(',')));
  if (r.readQuota > 0) row.push(u32Field(AdminField.READ_QUOTA, r.readQuota));
  if (r.writeQuota > 0) row.push(u32Field(AdminField.WRITE_QUOTA, r.writeQuota));
  return row;
}

export class UserCommands {
  private readonly security: Security;
  private readonly admin: UserAdmin;
  private readonly actor: Principal;
  private readonly address: string;

  constructor(security: Security, actor: Principal, address: string) {
    this.security = security;
    this.admin = new UserAdmin(security);
    this.actor = actor;
    this.address = address;
  }

  /** Runs one admin request and builds its reply; errors are thrown for the caller to answer. */
  async answer(req: AdminRequest): Promise<Buffer> {
    const { actor, address, admin } = this;
    const user = (): string => req.required(AdminField.USER, 'a user name');
    const role = (): string => req.required(AdminField.ROLE, 'a role name');
    const credential = (id: number): string => req.required(id, id === AdminField.OLD_PASSWORD ? 'the old password' : 'a password');
    const done = (): Buffer => adminReply(req.command, 0);
    switch (req.command) {
      case AdminCommand.CREATE_USER:
        await admin.createUser(actor, address, user(), { credential: credential(AdminField.PASSWORD) }, req.has(AdminField.ROLES) ? req.roles() : []);
        return done();
      case AdminCommand.DROP_USER:
        await admin.dropUser(actor, address, user());
        return done();
      case AdminCommand.SET_PASSWORD:
        await this.security.setPassword(actor, user(), { credential: credential(AdminField.PASSWORD) }, address);
        return done();
      case AdminCommand.CHANGE_PASSWORD:
        await this.security.setPassword(actor, user(), { credential: credential(AdminField.PASSWORD) }, address, { credential: credential(AdminField.OLD_PASSWORD) });
        return done();
      case AdminCommand.GRANT_ROLES:
        await admin.grantRoles(actor, address, user(), req.roles());
        return done();
      case AdminCommand.REVOKE_ROLES:
        await admin.revokeRoles(actor, address, user(), req.roles());
        return done();
      case AdminCommand.CREATE_ROLE:
        await admin.createRole(actor, address, role(), req.privileges(), req.whitelist(), req.quota(AdminField.READ_QUOTA), req.quota(AdminField.WRITE_QUOTA));
        return done();
      case AdminCommand.DROP_ROLE:
        await admin.dropRole(actor, address, role());
        return done();
      case AdminCommand.GRANT_PRIVILEGES:
        await admin.grantPrivileges(actor, address, role(), req.privileges());
        return done();
      case AdminCommand.REVOKE_PRIVILEGES:
        await admin.revokePrivileges(actor, address, role(), req.privileges());
        return done();
      case AdminCommand.SET_WHITELIST:
        await admin.setWhitelist(actor, address, role(), req.whitelist());
        return done();
      case AdminCommand.SET_QUOTAS:
        await admin.setQuotas(actor, address, role(), req.quota(AdminField.READ_QUOTA), req.quota(AdminField.WRITE_QUOTA));
        return done();
      case AdminCommand.QUERY_USERS: {
        const name = req.text(AdminField.USER);
        return adminQueryReply(req.command, admin.listUsers(actor, address, name === '' ? undefined : name).map(userRow));
      }
      case AdminCommand.QUERY_ROLES: {
        const name = req.text(AdminField.ROLE);
        return adminQueryReply(req.command, admin.listRoles(name === '' ? undefined : name).map(roleRow));
      }
      default:
        throw new DbError('INVALID_COMMAND', `unknown admin command ${req.command}`, { hint: 'send admin commands as the Aerospike clients build them' });
    }
  }
}
