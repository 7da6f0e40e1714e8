/**
 * Privileges, as Aerospike's access control names and numbers them: five global
 * administration privileges and five data privileges that may be scoped to a namespace or
 * to a namespace and set. Each privilege grants a fixed list of permissions; an operation
 * needs one permission on the namespace/set it touches.
 */
import { DbError } from '../errors/index.ts';

export const PRIVILEGE_CODES = {
  'user-admin': 0,
  'sys-admin': 1,
  'data-admin': 2,
  'udf-admin': 3,
  'sindex-admin': 4,
  'read': 10,
  'read-write': 11,
  'read-write-udf': 12,
  'write': 13,
  'truncate': 14,
} as const;

export type PrivilegeName = keyof typeof PRIVILEGE_CODES;

export const PRIVILEGE_NAMES = Object.keys(PRIVILEGE_CODES) as readonly PrivilegeName[];

/** A privilege, global when `namespace` is absent; `set` narrows a namespace further. */
export interface Privilege {
  readonly name: PrivilegeName;
  readonly namespace?: string;
  readonly set?: string;
}

/**
 * What an operation needs. `info` is granted to every authenticated user (node, namespace and
 * set listings, statistics, explain); the others come from privileges.
 */
export type Permission =
  | 'info'
  | 'read'
  | 'write'
  | 'udf'
  | 'truncate'
  | 'sindex-admin'
  | 'udf-admin'
  | 'job-admin'
  | 'user-admin'
  | 'sys-admin';

/** The permissions each privilege grants (Aerospike's: data-admin = UDF + index admin + truncate; sys-admin adds configuration). */
const GRANTS: Readonly<Record<PrivilegeName, readonly Permission[]>> = {
  'read': ['read'],
  'write': ['write'],
  'read-write': ['read', 'write'],
  'read-write-udf': ['read', 'write', 'udf'],
  'truncate': ['truncate'],
  'sindex-admin': ['sindex-admin'],
  'udf-admin': ['udf-admin'],
  'data-admin': ['sindex-admin', 'udf-admin', 'truncate', 'job-admin'],
  'sys-admin': ['sys-admin', 'sindex-admin', 'udf-admin', 'truncate', 'job-admin'],
  'user-admin': ['user-admin'],
};

/** Data privileges may be scoped; the administration privileges are global only. */
export function isScopable(name: PrivilegeName): boolean {
  return PRIVILEGE_CODES[name] >= 10;
}

export function isPrivilegeName(name: string): name is PrivilegeName {
  return Object.hasOwn(PRIVILEGE_CODES, name);
}

export function privilegeByCode(code: number): PrivilegeName | undefined {
  return PRIVILEGE_NAMES.find((n) => PRIVILEGE_CODES[n] === code);
}

/** Checks a privilege's name and scope; throws INVALID_PRIVILEGE with what to fix. */
export function checkPrivilege(p: Privilege): Privilege {
  if (!isPrivilegeName(p.name)) {
    throw new DbError('INVALID_PRIVILEGE', `unknown privilege '${String(p.name)}'`, { hint: `privileges are ${PRIVILEGE_NAMES.join(', ')}` });
  }
  if (p.set !== undefined && p.namespace === undefined) {
    throw new DbError('INVALID_PRIVILEGE', `privilege ${p.name} names a set without a namespace`, { hint: 'scope a privilege as name.namespace or name.namespace.set' });
  }
  if (p.namespace !== undefined && !isScopable(p.name)) {
    throw new DbError('INVALID_PRIVILEGE', `privilege ${p.name} cannot be scoped to a namespace`, { hint: `only ${PRIVILEGE_NAMES.filter(isScopable).join(', ')} can be scoped; ${p.name} is global` });
  }
  if (p.namespace === '' || p.set === '') {
    throw new DbError('INVALID_PRIVILEGE', `privilege ${p.name} has an empty scope`, { hint: 'leave the namespace out for a global privilege' });
  }
  return p;
}

/** Parses aql's spelling: `read`, `read-write.test`, `read.test.users`. */
export function parsePrivilege(text: string): Privilege {
  const parts = text.trim().split('.');
  if (parts.length > 3 || parts.some((p) => p === '')) {
    throw new DbError('INVALID_PRIVILEGE', `invalid privilege: ${text}`, { hint: 'write a privilege as name, name.namespace or name.namespace.set' });
  }
  const [name, namespace, set] = parts as [string, string?, string?];
  return checkPrivilege({ name: name as PrivilegeName, ...(namespace === undefined ? {} : { namespace }), ...(set === undefined ? {} : { set }) });
}

export function formatPrivilege(p: Privilege): string {
  return [p.name, p.namespace, p.set].filter((x) => x !== undefined).join('.');
}

export function samePrivilege(a: Privilege, b: Privilege): boolean {
  return a.name === b.name && a.namespace === b.namespace && a.set === b.set;
}

/** Whether `p` grants `permission` on the namespace/set (undefined: the operation is not scoped). */
export function grants(p: Privilege, permission: Permission, namespace?: string, set?: string): boolean {
  if (!GRANTS[p.name].includes(permission)) return false;
  if (p.namespace === undefined) return true;
  if (namespace === undefined || p.namespace !== namespace) return false;
  return p.set === undefined || p.set === (set ?? '');
}
