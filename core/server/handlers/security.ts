import type { ServerUnaryCall } from '@grpc/grpc-js';
import type { SecurityPrivilege, SecurityServiceServer } from '../../wire/generated/slipstream/v1/security.ts';
import type { Logger } from '../../plugin-api/index.ts';
import { DbError } from '../../errors/index.ts';
import type { Principal, Security } from '../../security/security.ts';
import type { UserAdmin } from '../../security/user-admin.ts';
import { checkPrivilege, type Privilege, type PrivilegeName } from '../../security/privileges.ts';
import type { RoleView } from '../../security/accounts.ts';
import { unary } from '../rpc.ts';
import { peerAddress, type SecurityGuard } from '../security-guard.ts';

const notEnabled = (): DbError => new DbError('SECURITY_NOT_ENABLED', 'security is not enabled on this node', { hint: 'add a "security" section to the node configuration (docs/security.md)' });

export function fromPbPrivilege(p: SecurityPrivilege): Privilege {
  return checkPrivilege({ name: p.name as PrivilegeName, ...(p.namespace === '' ? {} : { namespace: p.namespace }), ...(p.set === '' ? {} : { set: p.set }) });
}

export function toPbPrivilege(p: Privilege): SecurityPrivilege {
  return { name: p.name, namespace: p.namespace ?? '', set: p.set ?? '' };
}

function toPbRole(r: RoleView) {
  return { name: r.name, privileges: r.privileges.map(toPbPrivilege), whitelist: [...r.whitelist], readQuota: r.readQuota, writeQuota: r.writeQuota, predefined: r.predefined };
}

/**
 * SecurityService handlers. `guardOf` is the node's guard once security is on; every call
 * answers SECURITY_NOT_ENABLED (52) without one, as Aerospike does.
 */
export function securityHandlers(guardOf: () => SecurityGuard | undefined, logger: Logger): SecurityServiceServer {
  type Ctx = { security: Security; admin: UserAdmin; actor: Principal; address: string };
  const ctx = (call: ServerUnaryCall<unknown, unknown>): Ctx => {
    const guard = guardOf();
    if (guard === undefined) throw notEnabled();
    return { security: guard.security, admin: guard.admin, actor: guard.principalOf(call), address: peerAddress(call.getPeer()) };
  };
  return {
    login: unary(logger, 'Login', async (req, call) => {
      const guard = guardOf();
      if (guard === undefined) throw notEnabled();
      const r = await guard.security.login(req.user, { password: req.password }, peerAddress(call.getPeer()));
      return { token: r.token, ttlSeconds: r.ttlSeconds, mustChangePassword: r.mustChangePassword };
    }),
    whoAmI: unary(logger, 'WhoAmI', async (_req, call) => {
      const { actor } = ctx(call);
      return { user: actor.user, roles: [...actor.roles], privileges: actor.privileges.map(toPbPrivilege) };
    }),
    createUser: unary(logger, 'CreateUser', async (req, call) => {
      const c = ctx(call);
      await c.admin.createUser(c.actor, c.address, req.user, { password: req.password }, req.roles);
      return {};
    }),
    dropUser: unary(logger, 'DropUser', async (req, call) => {
      const c = ctx(call);
      await c.admin.dropUser(c.actor, c.address, req.user);
      return {};
    }),
    setPassword: unary(logger, 'SetPassword', async (req, call) => {
      const c = ctx(call);
      const user = req.user === '' ? c.actor.user : req.user;
      if (req.oldPassword !== '' && user !== c.actor.user) {
        throw new DbError('PARAMETER', `old_password is sent for another user's password (${user}), where it is not checked`, { hint: 'send old_password only when changing your own password' });
      }
      await c.security.setPassword(c.actor, user, req.password, c.address, req.oldPassword === '' ? undefined : req.oldPassword);
      return {};
    }),
    grantRoles: unary(logger, 'GrantRoles', async (req, call) => {
      const c = ctx(call);
      await c.admin.grantRoles(c.actor, c.address, req.user, req.roles);
      return {};
    }),
    revokeRoles: unary(logger, 'RevokeRoles', async (req, call) => {
      const c = ctx(call);
      await c.admin.revokeRoles(c.actor, c.address, req.user, req.roles);
      return {};
    }),
    listUsers: unary(logger, 'ListUsers', async (req, call) => {
      const c = ctx(call);
      return { users: c.admin.listUsers(c.actor, c.address, req.user === '' ? undefined : req.user).map((u) => ({
        name: u.name, roles: [...u.roles], mustChangePassword: u.mustChangePassword, readQuota: u.readQuota, writeQuota: u.writeQuota,
        connections: u.usage.connections, readsPerSecond: u.usage.readsPerSecond, writesPerSecond: u.usage.writesPerSecond,
      })) };
    }),
    createRole: unary(logger, 'CreateRole', async (req, call) => {
      const c = ctx(call);
      await c.admin.createRole(c.actor, c.address, req.role, req.privileges.map(fromPbPrivilege), req.whitelist, req.readQuota, req.writeQuota);
      return {};
    }),
    dropRole: unary(logger, 'DropRole', async (req, call) => {
      const c = ctx(call);
      await c.admin.dropRole(c.actor, c.address, req.role);
      return {};
    }),
    grantPrivileges: unary(logger, 'GrantPrivileges', async (req, call) => {
      const c = ctx(call);
      await c.admin.grantPrivileges(c.actor, c.address, req.role, req.privileges.map(fromPbPrivilege));
      return {};
    }),
    revokePrivileges: unary(logger, 'RevokePrivileges', async (req, call) => {
      const c = ctx(call);
      await c.admin.revokePrivileges(c.actor, c.address, req.role, req.privileges.map(fromPbPrivilege));
      return {};
    }),
    setWhitelist: unary(logger, 'SetWhitelist', async (req, call) => {
      const c = ctx(call);
      await c.admin.setWhitelist(c.actor, c.address, req.role, req.whitelist);
      return {};
    }),
    setQuotas: unary(logger, 'SetQuotas', async (req, call) => {
      const c = ctx(call);
      await c.admin.setQuotas(c.actor, c.address, req.role, req.readQuota, req.writeQuota);
      return {};
    }),
    listRoles: unary(logger, 'ListRoles', async (req, call) => {
      const c = ctx(call);
      return { roles: c.admin.listRoles(req.role === '' ? undefined : req.role).map(toPbRole) };
    }),
    rotateSessionSecret: unary(logger, 'RotateSessionSecret', async (req, call) => {
      const c = ctx(call);
      await c.security.rotateSessionSecret(c.actor, c.address, req.graceSeconds);
      return {};
    }),
  };
}
