/**
 * Access control for the gRPC port: when security is on, every call of every registered
 * service is authenticated (a session token, Basic credentials, or user/password metadata)
 * and authorized before its handler runs — the permission each method needs, on every
 * namespace/set its request names. AQL statements are checked one by one. A method missing
 * from the table needs sys-admin (fail closed); a test holds the table complete.
 */
import type { Metadata, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { DbError, toDbError } from '../errors/index.ts';
import type { CallIdentity, Credentials, Principal, Security } from '../security/security.ts';
import { UserAdmin } from '../security/user-admin.ts';
import type { Permission } from '../security/privileges.ts';
import { isWriteOperation } from '../transaction/operations.ts';
import { parseScript } from '../aql/language/parse.ts';
import type { Statement } from '../aql/language/ast.ts';
import { fromPbOperation } from './handlers/operations.ts';
import type { RestoreRecordsRequest } from '../wire/generated/slipstream/v1/data.ts';
import type { BatchOperateRequest, Operation as PbOperation, OperateRequest, StartOperationJobRequest } from '../wire/generated/slipstream/v1/kv.ts';
import { toServiceError } from '../wire/status.ts';
import { wrapMethods } from './wrap-methods.ts';

/** One permission on one scope (no namespace: not scoped). */
export interface Requirement {
  readonly permission: Permission;
  readonly namespace?: string;
  readonly set?: string;
}

type Rule = (request: unknown) => Requirement[];

interface Scoped { readonly namespace?: unknown; readonly set?: unknown; readonly key?: unknown; readonly keys?: unknown; readonly query?: unknown; readonly target?: unknown }

/**
 * The namespaces/sets a request names: its key, its keys, the query or target it carries,
 * or its own namespace and set. An empty namespace (every namespace) is no scope.
 */
function scopesOf(request: unknown): { namespace: string; set: string }[] {
  const r = (request ?? {}) as Scoped;
  const one = (x: unknown): { namespace: string; set: string } | undefined => {
    const k = (x ?? {}) as { namespace?: unknown; set?: unknown };
    return typeof k.namespace === 'string' && k.namespace !== '' ? { namespace: k.namespace, set: typeof k.set === 'string' ? k.set : '' } : undefined;
  };
  const nested = r.key ?? r.query ?? r.target;
  if (nested !== undefined) return [one(nested)].filter((s) => s !== undefined);
  if (Array.isArray(r.keys)) return r.keys.map(one).filter((s) => s !== undefined);
  const s = one(r);
  return s === undefined ? [] : [s];
}

const on = (...permissions: Permission[]): Rule => (request) => {
  const scopes = scopesOf(request);
  if (scopes.length === 0) return permissions.map((permission) => ({ permission }));
  const distinct = new Map(scopes.map((s) => [`${s.namespace}\u0000${s.set}`, s]));
  return [...distinct.values()].flatMap((s) => permissions.map((permission) => ({ permission, namespace: s.namespace, set: s.set })));
};
const global = (permission: Permission): Rule => () => [{ permission }];
const info: Rule = () => [{ permission: 'info' }];
/** Checked inside the handler (self-service calls, Login). */
const inHandler: Rule = () => [];

/** An operate call needs read for its reading operations and write for its writing ones. */
const operate: Rule = (request) => on(...operationPermissions(((request ?? {}) as OperateRequest).operations ?? []))(request);

/** The permissions a list of operations needs: read for reading ones, write for writing ones. */
function operationPermissions(ops: readonly PbOperation[]): Permission[] {
  let reads = false;
  let writes = false;
  for (const op of ops) {
    if (isWriteOperation(fromPbOperation(op))) writes = true; else reads = true;
  }
  return [...(reads ? ['read' as const] : []), ...(writes || !reads ? ['write' as const] : [])];
}

/** A batch needs, per entry, what the single call would: read, write, operate's permissions, or udf. */
const batchOperate: Rule = (request) => {
  const entries = ((request ?? {}) as BatchOperateRequest).entries ?? [];
  return entries.flatMap((e) => {
    const a = e.action;
    const permissions: Permission[] = a === undefined || a.$case === 'read' ? ['read']
      : a.$case === 'operate' ? operationPermissions(a.value.operations)
      : a.$case === 'udf' ? ['udf'] : ['write'];
    return on(...permissions)({ key: e.key });
  });
};

/** A background operation job writes (and reads, for reading operations) every record it reaches. */
const operationJob: Rule = (request) => on(...operationPermissions(((request ?? {}) as StartOperationJobRequest).operations ?? []))(request);

/** A restore writes every set its records name, in the request's namespace. */
const restore: Rule = (request) => {
  const r = (request ?? {}) as RestoreRecordsRequest;
  const sets = new Set((r.records ?? []).map((x) => x.set));
  return [...sets].flatMap((set) => on('write')({ namespace: r.namespace, set }));
};

/** What an AQL statement needs. */
export function statementRequirements(s: Statement): Requirement[] {
  const scoped = (permission: Permission, t: { namespace: string; set: string | null }): Requirement[] => [{ permission, namespace: t.namespace, set: t.set ?? '' }];
  switch (s.kind) {
    case 'select': return scoped('read', s.target);
    case 'explain': return scoped('read', s.statement.target);
    case 'aggregate': return scoped('read', s.target);
    case 'insert': case 'update': case 'delete': return scoped('write', s.target);
    case 'operate': return [...scoped('read', s.target), ...scoped('write', s.target)];
    case 'execute': return scoped('udf', s.target);
    case 'truncate': return scoped('truncate', s.target);
    case 'create-index': case 'drop-index': return [{ permission: 'sindex-admin' }];
    case 'register-module': case 'remove-module': return [{ permission: 'udf-admin' }];
    case 'kill-job': return [{ permission: 'job-admin' }];
    case 'show': case 'stat': case 'desc-module': case 'help': return [{ permission: 'info' }];
    case 'set-setting': case 'get-setting': case 'reset-setting': case 'run': case 'exit': return [];
    case 'set-config': return [{ permission: 'sys-admin' }];
    // user and role statements check user-admin (or self-service) where they run
    // checked where it runs: anyone may change their own password, even one that must change
    case 'set-password': return [];
    case 'create-user': case 'drop-user': case 'grant-roles': case 'revoke-roles': case 'create-role':
    case 'drop-role': case 'grant-privileges': case 'revoke-privileges': case 'set-whitelist': case 'show-security':
      return [{ permission: 'info' }];
  }
}

const aql: Rule = (request) => {
  const text = ((request ?? {}) as { text?: unknown }).text;
  if (typeof text !== 'string') return [{ permission: 'info' }];
  // a statement that does not parse is refused by the executor with its syntax error; it runs nothing
  return parseScript(text).flatMap((part) => (part.result.ok ? statementRequirements(part.result.statement) : [{ permission: 'info' as const }]));
};

/** Every method of the node's services and what it needs. */
export const METHOD_RULES: Readonly<Record<string, Rule>> = {
  '/slipstream.v1.KeyValueService/Put': on('write'),
  '/slipstream.v1.KeyValueService/Get': on('read'),
  '/slipstream.v1.KeyValueService/Exists': on('read'),
  '/slipstream.v1.KeyValueService/Delete': on('write'),
  '/slipstream.v1.KeyValueService/Touch': on('write'),
  '/slipstream.v1.KeyValueService/Operate': operate,
  '/slipstream.v1.KeyValueService/BatchGet': on('read'),
  '/slipstream.v1.KeyValueService/Scan': on('read'),
  '/slipstream.v1.KeyValueService/Truncate': on('truncate'),
  '/slipstream.v1.KeyValueService/BatchOperate': batchOperate,
  '/slipstream.v1.KeyValueService/StartOperationJob': operationJob,
  '/slipstream.v1.AdminService/GetNodeInfo': info,
  '/slipstream.v1.AdminService/ListNamespaces': info,
  '/slipstream.v1.AdminService/ListSets': info,
  '/slipstream.v1.AdminService/ListBins': info,
  '/slipstream.v1.AdminService/GetStatistics': info,
  '/slipstream.v1.AdminService/ListPlugins': info,
  '/slipstream.v1.AdminService/GetConfig': info,
  '/slipstream.v1.AdminService/SetConfig': global('sys-admin'),
  '/slipstream.v1.DataService/RestoreRecords': restore,
  '/slipstream.v1.DataService/Export': on('read'),
  // a client stream: the target arrives in the first message, after the call is admitted, so
  // an import needs write on every namespace (a scoped writer cannot import)
  '/slipstream.v1.DataService/Import': global('write'),
  '/slipstream.v1.ClusterService/GetClusterInfo': info,
  '/slipstream.v1.ClusterService/GetPartitionMap': info,
  '/slipstream.v1.ClusterService/GetPartitionDigests': info,
  '/slipstream.v1.ClusterService/Quiesce': global('sys-admin'),
  '/slipstream.v1.QueryService/CreateIndex': global('sindex-admin'),
  '/slipstream.v1.QueryService/DropIndex': global('sindex-admin'),
  '/slipstream.v1.QueryService/ListIndexes': info,
  '/slipstream.v1.QueryService/GetIndexStat': info,
  '/slipstream.v1.QueryService/Query': on('read'),
  '/slipstream.v1.QueryService/Aggregate': on('read'),
  '/slipstream.v1.QueryService/Explain': on('read'),
  '/slipstream.v1.UdfService/RegisterModule': global('udf-admin'),
  '/slipstream.v1.UdfService/ListModules': info,
  '/slipstream.v1.UdfService/GetModule': info,
  '/slipstream.v1.UdfService/RemoveModule': global('udf-admin'),
  '/slipstream.v1.UdfService/ApplyRecordUdf': on('udf'),
  '/slipstream.v1.UdfService/Aggregate': on('read'),
  '/slipstream.v1.UdfService/StartBackgroundJob': on('udf'),
  '/slipstream.v1.UdfService/ListJobs': info,
  '/slipstream.v1.UdfService/KillJob': global('job-admin'),
  '/slipstream.v1.AqlService/Execute': aql,
  '/slipstream.v1.SecurityService/Login': inHandler,
  '/slipstream.v1.SecurityService/WhoAmI': inHandler,
  '/slipstream.v1.SecurityService/CreateUser': inHandler,
  '/slipstream.v1.SecurityService/DropUser': inHandler,
  '/slipstream.v1.SecurityService/SetPassword': inHandler,
  '/slipstream.v1.SecurityService/GrantRoles': inHandler,
  '/slipstream.v1.SecurityService/RevokeRoles': inHandler,
  '/slipstream.v1.SecurityService/ListUsers': inHandler,
  '/slipstream.v1.SecurityService/CreateRole': inHandler,
  '/slipstream.v1.SecurityService/DropRole': inHandler,
  '/slipstream.v1.SecurityService/GrantPrivileges': inHandler,
  '/slipstream.v1.SecurityService/RevokePrivileges': inHandler,
  '/slipstream.v1.SecurityService/SetWhitelist': inHandler,
  '/slipstream.v1.SecurityService/SetQuotas': inHandler,
  '/slipstream.v1.SecurityService/ListRoles': inHandler,
  '/slipstream.v1.SecurityService/RotateSessionSecret': inHandler,
};

/** Methods a caller may use without credentials at all. */
const UNAUTHENTICATED = new Set(['/slipstream.v1.SecurityService/Login']);

/** The client's address from grpc-js's peer string (`1.2.3.4:5`, `[::1]:5`, `ipv4:…`). */
export function peerAddress(peer: string): string {
  const p = peer.replace(/^ipv[46]:/, '');
  if (p.startsWith('[')) return p.slice(1, p.indexOf(']'));
  const i = p.lastIndexOf(':');
  return i > 0 && p.indexOf(':') === i ? p.slice(0, i) : p;
}

/** The credentials a call carries: a Bearer token, Basic user:password, or `user` + `password` metadata. */
export function credentialsOf(metadata: Metadata): Credentials | undefined {
  const auth = metadata.get('authorization')[0];
  if (typeof auth === 'string') {
    const [scheme = '', value = ''] = auth.trim().split(/\s+/, 2);
    if (scheme.toLowerCase() === 'bearer' && value !== '') return { token: value };
    if (scheme.toLowerCase() === 'basic' && value !== '') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i > 0) return { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
    }
    throw new DbError('NOT_AUTHENTICATED', 'the authorization metadata is not understood', { hint: 'send "authorization: Bearer <token>" or "authorization: Basic <base64 user:password>"' });
  }
  const user = metadata.get('user')[0];
  const password = metadata.get('password')[0];
  if (typeof user === 'string' && typeof password === 'string') return { user, password };
  return undefined;
}

/** Authenticates and authorizes gRPC calls for one node. */
export class SecurityGuard {
  readonly security: Security;
  readonly admin: UserAdmin;
  private readonly principals = new WeakMap<object, Principal>();

  private readonly connections: ConnectionEvents | undefined;

  /** `connections` tells when a call's connection closes (so per-user connection counts end with it). */
  constructor(security: Security, connections?: ConnectionEvents) {
    this.security = security;
    this.admin = new UserAdmin(security);
    this.connections = connections;
  }

  /** The principal of a call that passed the guard. */
  principalOf(call: object): Principal {
    const p = this.principals.get(call);
    if (p === undefined) throw new DbError('NOT_AUTHENTICATED', 'this call is not authenticated', { hint: 'log in first' });
    return p;
  }

  /** Checks one call; resolves with who is calling once it may run. */
  async admit(path: string, call: { readonly request: unknown; readonly metadata: Metadata; getPeer(): string }): Promise<CallIdentity> {
    const address = peerAddress(call.getPeer());
    if (UNAUTHENTICATED.has(path)) return { user: '', address };
    const principal = await this.security.authenticate(credentialsOf(call.metadata), address);
    this.countConnection(principal.user, call.getPeer());
    this.principals.set(call, principal);
    const rule = METHOD_RULES[path] ?? global('sys-admin');
    const requirements = rule(call.request);
    for (const r of requirements) this.security.authorize(principal, r.permission, r.namespace, r.set, path.slice(path.lastIndexOf('/') + 1), address);
    // quotas count records addressed (a batch counts each key)
    const keys = (call.request as { keys?: unknown } | undefined)?.keys;
    const records = Array.isArray(keys) ? keys.length : 1;
    if (requirements.some((r) => r.permission === 'read')) this.security.admit(principal, 'read', records);
    if (requirements.some((r) => r.permission === 'write' || r.permission === 'udf')) this.security.admit(principal, 'write', records);
    return { user: principal.user, address, principal };
  }

  /** The call's connection counts for its user from now until it closes (QUOTA_EXCEEDED past the per-user limit). */
  private countConnection(user: string, peer: string): void {
    if (this.connections === undefined) return;
    const key = `grpc ${peer}`;
    if (this.security.activity.attach(user, key) && !this.connections.whenClosed(peer, () => this.security.activity.detach(key))) {
      // a connection the port does not know (already closed): it does not count
      this.security.activity.detach(key);
    }
  }
}

/** Tells when a client connection closes, by the peer string of its calls. */
export interface ConnectionEvents {
  whenClosed(peer: string, fn: () => void): boolean;
}

/**
 * Wraps a service implementation so that, while `guardOf()` returns a guard (security on),
 * each method passes `admit` first; without one the call goes straight through.
 */
export function guarded<I extends UntypedServiceImplementation>(definition: ServiceDefinition<I>, implementation: I, guardOf: () => SecurityGuard | undefined): I {
  return wrapMethods(definition, implementation, {
    unary: (unary, { path }) => (call, cb) => {
      const guard = guardOf();
      if (guard === undefined) { unary(call, cb); return; }
      guard.admit(path, call).then((who) => guard.security.calls.run(who, () => unary(call, cb)), (err: unknown) => cb(toServiceError(toDbError(err)), null));
    },
    serverStream: (stream, { path }) => (call) => {
      const guard = guardOf();
      if (guard === undefined) { stream(call); return; }
      guard.admit(path, call).then((who) => guard.security.calls.run(who, () => stream(call)), (err: unknown) => call.emit('error', toServiceError(toDbError(err))));
    },
    // client or bidirectional streams: admitted on the call's metadata before any message is read
    requestStream: (handler, { path }) => (call, cb) => {
      const guard = guardOf();
      if (guard === undefined) { handler(call, cb); return; }
      guard.admit(path, { request: undefined, metadata: call.metadata, getPeer: () => call.getPeer() }).then(
        (who) => guard.security.calls.run(who, () => handler(call, cb)),
        (err: unknown) => { const e = toServiceError(toDbError(err)); if (cb !== undefined) cb(e, null); else call.emit('error', e); },
      );
    },
  });
}
