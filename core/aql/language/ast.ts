/**
 * The typed, readonly AST of AQL. Every node has a `kind`; statements are a discriminated union.
 * Literal values are already bin values (integers bigint, doubles number, …), so
 * `JSON('[1]')` and `LIST('[1]')` read the same; the printer writes the canonical form.
 */
import type { BinValue, UserKey } from '../../model/index.ts';

/** ns[.set]; `set` is null when the statement names no set (records without a set). */
export interface Target {
  readonly namespace: string;
  readonly set: string | null;
}

/** How a statement addresses one record. */
export type KeyRef =
  | { readonly kind: 'pk'; readonly value: UserKey }
  | { readonly kind: 'digest'; readonly hex: string };

export type CollectionType = 'LIST' | 'MAPKEYS' | 'MAPVALUES';
export type IndexType = 'NUMERIC' | 'STRING' | 'BLOB' | 'GEO2DSPHERE';
export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type ArithOp = '+' | '-' | '*' | '/' | '%';

// ---- expressions (WHERE clauses, values) ----
export interface LiteralExpr { readonly kind: 'literal'; readonly value: BinValue }
export interface BinExpr { readonly kind: 'bin'; readonly name: string }
/** `NAME(args)`: a function of the expression language (names upper-cased), e.g. SIZE(b), TTL(). */
export interface CallExpr { readonly kind: 'call'; readonly name: string; readonly args: readonly Expr[] }
export interface CompareExpr { readonly kind: 'compare'; readonly op: CompareOp; readonly left: Expr; readonly right: Expr }
export interface BetweenExpr { readonly kind: 'between'; readonly operand: Expr; readonly low: Expr; readonly high: Expr }
/** `bin CONTAINS region|point`, `bin WITHIN region` (GeoJSON). */
export interface GeoExpr { readonly kind: 'geo'; readonly op: 'CONTAINS' | 'WITHIN'; readonly operand: Expr; readonly region: Expr }
export interface LogicalExpr { readonly kind: 'and' | 'or'; readonly operands: readonly Expr[] }
export interface NotExpr { readonly kind: 'not'; readonly operand: Expr }
export interface ArithExpr { readonly kind: 'arith'; readonly op: ArithOp; readonly left: Expr; readonly right: Expr }
export interface NegExpr { readonly kind: 'neg'; readonly operand: Expr }

export type Expr = LiteralExpr | BinExpr | CallExpr | CompareExpr | BetweenExpr | GeoExpr | LogicalExpr | NotExpr | ArithExpr | NegExpr;

/** A WHERE clause: one record by key, or a boolean expression over bins. */
export type Where =
  | { readonly kind: 'key'; readonly key: KeyRef }
  | { readonly kind: 'filter'; readonly expr: Expr };

export type SelectItem =
  | { readonly kind: 'bin'; readonly name: string }
  | { readonly kind: 'aggregate'; readonly fn: 'COUNT' | 'SUM' | 'MIN' | 'MAX' | 'AVG'; readonly bin: string | null };

export interface OrderItem { readonly bin: string; readonly direction: 'ASC' | 'DESC' }

// ---- statements ----
export interface SelectStatement {
  readonly kind: 'select';
  /** null is `*`. */
  readonly items: readonly SelectItem[] | null;
  readonly target: Target;
  readonly in: CollectionType | null;
  readonly where: Where | null;
  readonly orderBy: readonly OrderItem[];
  readonly limit: bigint | null;
}
export interface InsertStatement {
  readonly kind: 'insert';
  readonly target: Target;
  readonly key: KeyRef;
  readonly bins: readonly { readonly name: string; readonly value: BinValue }[];
}
export interface UpdateStatement {
  readonly kind: 'update';
  readonly target: Target;
  readonly bins: readonly { readonly name: string; readonly value: BinValue }[];
  readonly key: KeyRef;
}
export interface DeleteStatement { readonly kind: 'delete'; readonly target: Target; readonly key: KeyRef }
/** One operation of OPERATE: an upper-cased name (WRITE, INCR, LIST_APPEND, MAP_PUT, …) and literal arguments. */
export interface Operation {
  readonly op: string; readonly bin: string | null; readonly args: readonly BinValue[];
  /** WITH_POLICY(AS_MAP_KEY_ORDERED, …): aql's map policy names (and AS_LIST_ORDERED / AS_LIST_UNORDERED), upper-cased. */
  readonly policy?: readonly string[];
  /** WITH_RETURN(KEY_VALUE): a return type name (VALUE, KEY, KEY_VALUE, ORDERED_MAP, COUNT, …), upper-cased. */
  readonly returnType?: string;
}
export interface OperateStatement { readonly kind: 'operate'; readonly ops: readonly Operation[]; readonly target: Target; readonly key: KeyRef }
/** UPTO: nanoseconds since the epoch (integer) or a date string. */
export interface TruncateStatement { readonly kind: 'truncate'; readonly target: Target; readonly upto: bigint | string | null }
export interface ExplainStatement { readonly kind: 'explain'; readonly statement: SelectStatement }
export type ShowWhat = 'NAMESPACES' | 'SETS' | 'BINS' | 'INDEXES' | 'MODULES' | 'JOBS' | 'CLUSTER' | 'PARTITIONS' | 'PLUGINS' | 'CONFIG';
export interface ShowStatement { readonly kind: 'show'; readonly what: ShowWhat; readonly namespace: string | null }
export type StatStatement =
  | { readonly kind: 'stat'; readonly what: 'SYSTEM' }
  | { readonly kind: 'stat'; readonly what: 'NAMESPACE'; readonly namespace: string }
  | { readonly kind: 'stat'; readonly what: 'INDEX'; readonly namespace: string; readonly index: string };
/** SET CONFIG <setting> <value>: a live configuration change on the node the statement runs on. */
export interface SetConfigStatement { readonly kind: 'set-config'; readonly name: string; readonly value: string | number | boolean }
export interface SetSettingStatement { readonly kind: 'set-setting'; readonly name: string; readonly value: string }
export interface GetSettingStatement { readonly kind: 'get-setting'; readonly name: string | null }
export interface ResetSettingStatement { readonly kind: 'reset-setting'; readonly name: string }
export interface RunStatement { readonly kind: 'run'; readonly path: string }
export interface HelpStatement { readonly kind: 'help'; readonly topic: string | null }
export interface ExitStatement { readonly kind: 'exit' }
export interface CreateIndexStatement {
  readonly kind: 'create-index';
  readonly collection: CollectionType | null;
  readonly name: string;
  readonly target: Target;
  readonly bin: string;
  readonly type: IndexType;
}
export interface DropIndexStatement { readonly kind: 'drop-index'; readonly target: Target; readonly name: string }
export interface RegisterModuleStatement { readonly kind: 'register-module'; readonly path: string }
export interface RemoveModuleStatement { readonly kind: 'remove-module'; readonly module: string }
export interface DescModuleStatement { readonly kind: 'desc-module'; readonly module: string }
export interface UdfCall { readonly module: string; readonly fn: string; readonly args: readonly BinValue[] }
/** A record UDF (WHERE PK) or a background job over a scan or query. */
export interface ExecuteStatement { readonly kind: 'execute'; readonly call: UdfCall; readonly target: Target; readonly in: CollectionType | null; readonly where: Where | null }
export interface AggregateStatement { readonly kind: 'aggregate'; readonly call: UdfCall; readonly target: Target; readonly in: CollectionType | null; readonly where: Expr | null }
export interface KillJobStatement { readonly kind: 'kill-job'; readonly id: bigint }

// ---- users and roles (privileges as aql spells them: name, name.ns, name.ns.set) ----
export interface CreateUserStatement { readonly kind: 'create-user'; readonly user: string; readonly password: string; readonly roles: readonly string[] }
export interface DropUserStatement { readonly kind: 'drop-user'; readonly user: string }
/** SET PASSWORD <password> [FOR <user>]: without FOR, the session's own user. */
export interface SetPasswordStatement { readonly kind: 'set-password'; readonly password: string; readonly user: string | null }
export interface GrantRolesStatement { readonly kind: 'grant-roles'; readonly roles: readonly string[]; readonly user: string }
export interface RevokeRolesStatement { readonly kind: 'revoke-roles'; readonly roles: readonly string[]; readonly user: string }
export interface CreateRoleStatement { readonly kind: 'create-role'; readonly role: string; readonly privileges: readonly string[]; readonly whitelist: readonly string[] }
export interface DropRoleStatement { readonly kind: 'drop-role'; readonly role: string }
export interface GrantPrivilegesStatement { readonly kind: 'grant-privileges'; readonly privileges: readonly string[]; readonly role: string }
export interface RevokePrivilegesStatement { readonly kind: 'revoke-privileges'; readonly privileges: readonly string[]; readonly role: string }
export interface SetWhitelistStatement { readonly kind: 'set-whitelist'; readonly whitelist: readonly string[]; readonly role: string }
/** SHOW USERS, SHOW USER <name>, SHOW ROLES, SHOW ROLE <name>. */
export interface ShowSecurityStatement { readonly kind: 'show-security'; readonly what: 'USERS' | 'ROLES'; readonly name: string | null }
export type SecurityStatement =
  | CreateUserStatement | DropUserStatement | SetPasswordStatement | GrantRolesStatement | RevokeRolesStatement
  | CreateRoleStatement | DropRoleStatement | GrantPrivilegesStatement | RevokePrivilegesStatement | SetWhitelistStatement
  | ShowSecurityStatement;

export type Statement =
  | SelectStatement | InsertStatement | UpdateStatement | DeleteStatement | OperateStatement | TruncateStatement
  | ExplainStatement | ShowStatement | StatStatement | SetConfigStatement | SetSettingStatement | GetSettingStatement | ResetSettingStatement
  | RunStatement | HelpStatement | ExitStatement | CreateIndexStatement | DropIndexStatement | RegisterModuleStatement
  | RemoveModuleStatement | DescModuleStatement | ExecuteStatement | AggregateStatement | KillJobStatement
  | SecurityStatement;

export type StatementKind = Statement['kind'];
