/**
 * User and role statements, as aql spells them: CREATE USER, DROP USER, SET PASSWORD,
 * GRANT/REVOKE ROLES, CREATE ROLE, DROP ROLE, GRANT/REVOKE PRIVILEGES, SET WHITELIST, SHOW USERS,
 * SHOW USER, SHOW ROLES, SHOW ROLE. They act as the user of the call that runs them (the
 * security subsystem's call context), through the same checks as the SecurityService.
 */
import { DbError } from '../../errors/index.ts';
import { SECURITY } from '../../services/index.ts';
import { formatPrivilege, parsePrivilege } from '../../security/privileges.ts';
import type { Principal, Security } from '../../security/security.ts';
import { UserAdmin } from '../../security/user-admin.ts';
import type { ExecContext, StatementFamily } from './executor.ts';

interface Caller { readonly security: Security; readonly admin: UserAdmin; readonly actor: Principal; readonly address: string }

function caller(ctx: ExecContext): Caller {
  const security = ctx.services.get(SECURITY);
  if (security === undefined) throw new DbError('SECURITY_NOT_ENABLED', 'security is not enabled on this node', { hint: 'add a "security" section to the node configuration (docs/security.md)' });
  const who = security.calls.getStore();
  if (who?.principal === undefined) throw new DbError('NOT_AUTHENTICATED', 'user and role statements need an authenticated call', { hint: 'run them through the AQL service with credentials (aql -U user -P)' });
  return { security, admin: new UserAdmin(security), actor: who.principal, address: who.address };
}

const privileges = (texts: readonly string[]) => texts.map(parsePrivilege);

export const securityStatements: StatementFamily = {
  name: 'security',
  statements: {
    'create-user': async (s, ctx, out) => {
      const c = caller(ctx);
      await c.admin.createUser(c.actor, c.address, s.user, { password: s.password }, s.roles);
      out.status(0, '');
    },
    'drop-user': async (s, ctx, out) => {
      const c = caller(ctx);
      await c.admin.dropUser(c.actor, c.address, s.user);
      out.status(0, '');
    },
    'set-password': async (s, ctx, out) => {
      const c = caller(ctx);
      await c.security.setPassword(c.actor, s.user ?? c.actor.user, s.password, c.address);
      out.status(0, '');
    },
    'grant-roles': async (s, ctx, out) => {
      const c = caller(ctx);
      await c.admin.grantRoles(c.actor, c.address, s.user, s.roles);
      out.status(0, '');
    },
    'revoke-roles': async (s, ctx, out) => {
      const c = caller(ctx);
      await c.admin.revokeRoles(c.actor, c.address, s.user, s.roles);
      out.status(0, '');
    },
    'create-role': async (s, ctx, out) => {
      const c = caller(ctx);
      await c.admin.createRole(c.actor, c.address, s.role, privileges(s.privileges), s.whitelist, 0, 0);
      out.status(0, '');
    },
    'drop-role': async (s, ctx, out) => {
      const c = caller(ctx);
      await c.admin.dropRole(c.actor, c.address, s.role);
      out.status(0, '');
    },
    'grant-privileges': async (s, ctx, out) => {
      const c = caller(ctx);
      await c.admin.grantPrivileges(c.actor, c.address, s.role, privileges(s.privileges));
      out.status(0, '');
    },
    'revoke-privileges': async (s, ctx, out) => {
      const c = caller(ctx);
      await c.admin.revokePrivileges(c.actor, c.address, s.role, privileges(s.privileges));
      out.status(0, '');
    },
    'set-whitelist': async (s, ctx, out) => {
      const c = caller(ctx);
      await c.admin.setWhitelist(c.actor, c.address, s.role, s.whitelist);
      out.status(0, '');
    },
    'show-security': async (s, ctx, out) => {
      const c = caller(ctx);
      const started = performance.now();
      out.begin([]);
      if (s.what === 'USERS') {
        for (const u of c.admin.listUsers(c.actor, c.address, s.name ?? undefined)) out.row([
          ['user', u.name], ['roles', u.roles.join(', ')], ['conns-in-use', u.usage.connections],
          ['read-quota', u.readQuota], ['read-single-record-tps', u.usage.readsPerSecond],
          ['write-quota', u.writeQuota], ['write-single-record-tps', u.usage.writesPerSecond],
        ]);
      } else {
        for (const r of c.admin.listRoles(s.name ?? undefined)) {
          out.row([['role', r.name], ['privileges', r.privileges.map(formatPrivilege).join(', ')], ['whitelist', r.whitelist.join(', ')]]);
        }
      }
      out.end(performance.now() - started, ctx.nodeAddress);
    },
  },
};
