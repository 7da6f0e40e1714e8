/**
 * Nothing a client sends is dropped silently. For every RPC of every service, the request is
 * generated from the protos' descriptors (protobufjs reflection of proto/): starting from a valid
 * request, each field at every depth (each member of each oneof, each field of each nested
 * message, one element of each repeated field) is set on its own, and the call must either be
 * refused with PARAMETER (4) or give a different result — the response, or the state the call
 * leaves (read back by the scenario's probe) — than the same call without that field, from the
 * same starting state (a scenario may give several, e.g. a bin missing and present: a field
 * honoured only when a list is created shows in the first). Parts of a result that differ between
 * two runs of the very same request (times, ids, tokens) are left out of the comparison.
 *
 * A field added to a proto later is walked like the others: unless the server honours or refuses
 * it, this test fails naming it. The few fields that cannot change anything on one node (which
 * copy serves a read, the commit level) are listed in ELSEWHERE with the test that proves them.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { protoRoot } from '../../core/server/unknown-fields.ts';
import { RESULT_CODE_HEADER } from '../../core/wire/status.ts';
import { Sketch } from '../../core/model/hll.ts';
import { computeDigest } from '../../core/model/key.ts';

type Json = Record<string, unknown>;

const ADMIN_PASSWORD = 'every-field-admin';
const FILTER_REJECTS = JSON.stringify({ kind: 'cmp', op: '==', left: { kind: 'bin', name: 'a' }, right: { kind: 'lit', value: 2 } });
const MODULE = 'export function add(rec, bin, n) { rec[bin] = (rec[bin] ?? 0) + n; aerospike.update(rec); return rec[bin]; }\n'
  + 'export function del(rec) { aerospike.remove(rec); return 1; }\n'
  + 'export function slow(rec) { const end = Date.now() + 200; while (Date.now() < end); return 1; }\n'
  + 'export function count(stream, k) { return stream.map(() => k ?? 1).reduce((a, b) => a + b); }\n';

/** What one call gave: a result code (0: success) and the response messages as plain JSON. */
interface Outcome {
  readonly code: number;
  readonly message: string;
  readonly responses: readonly unknown[];
  readonly probe: unknown;
}

/**
 * A starting state and what to read back after the call. `reset` runs before every call (the
 * baseline's and each variant's), so each starts from the same records, users, modules.
 */
interface State {
  readonly name: string;
  reset(h: Harness): Promise<void>;
}

interface Scenario {
  /** A valid request (protobufjs JSON: camelCase names, enum names, int64 as strings). */
  readonly base: Json;
  readonly states: readonly State[];
  /** Reads the state the call left (records, users …); its JSON is compared as the response is. */
  probe?(h: Harness): Promise<unknown>;
  /** Expand the fields of Value messages here (elsewhere a Value is one field with one sample). */
  readonly expandValues?: boolean;
  /** Seeds of this RPC where the shared ones do not fit (a job takes only writes). */
  readonly seeds?: Readonly<Record<string, Json>>;
  /** Messages refused as a whole by this RPC (with why): their fields are not walked. */
  readonly refusedWhole?: Readonly<Record<string, string>>;
}

/** Fields that cannot change a result on one node, with where they are proven. */
const ELSEWHERE: Readonly<Record<string, string>> = {
  'ReadPolicy.replica': 'which copy serves a read: one node holds every copy (test/cluster replica reads, official client on 3 processes)',
  'WritePolicy.commitLevel': 'commit to master vs all: one node has no replicas (test/cluster commit-level simulation)',
  'GetPartitionMapRequest.namespace': 'served by the nodes of a cluster only (test/helpers/cluster-info.ts in the cluster tests; test/client cluster routing)',
  'GetPartitionDigestsRequest.namespace': 'served by the nodes of a cluster only (test/cluster/faults.test.ts compares the copies)',
  'GetPartitionDigestsRequest.detailPartitions': 'served by the nodes of a cluster only (test/cluster/faults.test.ts compares the copies)',
  'SetConfigRequest.clusterWide': 'every member applies the change: one node is every member (test/node/live-config-cluster.test.ts)',
  'QuiesceRequest.undo': 'served by the nodes of a cluster only (test/cluster/processes-leave.test.ts quiesces and undoes it over gRPC)',
};

/** A sample for a message type when a variant needs one present (valid on its own). */
const SHARED_SEEDS: Readonly<Record<string, Json>> = {
  Key: { namespace: 'test', set: 'f', stringKey: 'k1' },
  Value: { int: '5' },
  Bin: { name: 'n', value: { int: '5' } },
  ListValue: { items: [{ int: '1' }] },
  MapValue: { entries: [{ key: { string: 'a' }, value: { int: '1' } }] },
  MapEntry: { key: { string: 'a' }, value: { int: '1' } },
  Operation: { read: { bin: 'a' } },
  ReadOp: { bin: 'a' },
  WriteOp: { bin: 'n', value: { int: '5' } },
  AddOp: { bin: 'a', value: { int: '2' } },
  AppendOp: { bin: 's', value: { string: '+' } },
  PrependOp: { bin: 's', value: { string: '+' } },
  ListOp: { bin: 'l', kind: 'LIST_OP_KIND_APPEND', value: { int: '5' } },
  MapOp: { bin: 'm', kind: 'MAP_OP_KIND_PUT', key: { string: 'c' }, value: { int: '3' } },
  BitOp: { bin: 'b', kind: 'BIT_OP_KIND_GET', offset: '0', size: '8' },
  HllOp: { bin: 'h', kind: 'HLL_OP_KIND_GET_COUNT' },
  ExpReadOp: { name: 'x', expressionJson: JSON.stringify({ kind: 'bin', name: 'a' }) },
  ExpWriteOp: { bin: 'n', expressionJson: JSON.stringify({ kind: 'bin', name: 'a' }) },
  CdtContext: { listIndex: '0' },
  ListWriteFlags: {},
  MapWriteFlags: {},
  BitPolicy: {},
  HllPolicy: {},
  WritePolicy: {},
  ReadPolicy: {},
  UdfTarget: { namespace: 'test', set: 'f' },
  UdfCall: { module: 'ef', function: 'add', args: [{ string: 'a' }, { int: '1' }] },
  BatchEntry: { key: { namespace: 'test', set: 'f', stringKey: 'k1' }, read: {} },
  BatchRead: {},
  BatchPut: { bins: [{ name: 'n', value: { int: '5' } }] },
  BatchOperations: { operations: [{ read: { bin: 'a' } }] },
  QueryRequest: { namespace: 'test', set: 'f' },
  SecurityPrivilege: { name: 'read' },
  ConfigChange: { name: 'udf.defaultTimeoutMs', valueJson: '1500' },
  // newer than the fixture's (r, r1): restored under the default policy
  RestoreRecord: { set: 'r', digest: Buffer.from(computeDigest('r', 'r1')).toString('base64'), userKey: { string: 'r1' }, bins: [{ name: 'a', value: { int: '1' } }], generation: 5, lastUpdateMs: '1000' },
  AqlSettings: {},
  ClientFile: { path: 'x.js', content: Buffer.from('export function f() { return 1; }').toString('base64') },
};

/** A sample for a scalar field, different from what the request already holds. */
function sample(type: protobuf.Type, f: protobuf.Field, current: unknown): unknown {
  const special = STRING_SAMPLES[`${type.name}.${f.name}`] ?? STRING_SAMPLES[f.name];
  if (special !== undefined && special !== current) return special;
  if (f.resolvedType instanceof protobuf.Enum) {
    const names = Object.keys(f.resolvedType.values).filter((n) => f.resolvedType instanceof protobuf.Enum && f.resolvedType.values[n] !== 0 && n !== current);
    return names[0];
  }
  switch (f.type) {
    case 'string': return current === 'x1' ? 'x2' : 'x1';
    case 'bool': return current !== true;
    case 'bytes': return Buffer.from([1, 2, 3]).toString('base64');
    case 'double': case 'float': return current === 2.5 ? 3.5 : 2.5;
    default: return String(current === undefined ? 3 : Number(current) + 1);
  }
}

/** Samples of string (and a few other) fields where any string is not a meaningful value. */
const STRING_SAMPLES: Readonly<Record<string, unknown>> = {
  filterJson: FILTER_REJECTS,
  namespace: 'other',
  'Key.digest': Buffer.alloc(20, 7).toString('base64'),
  'RestoreRecord.digest': Buffer.alloc(20, 7).toString('base64'),
  'Value.hll': Buffer.from(Sketch.empty(4, 0).toHll().bytes).toString('base64'),
  'Value.geojson': '{"type":"Point","coordinates":[1,2]}',
  'Bin.name': 'z',
  'ReadOp.bin': 's',
  'ExpReadOp.expressionJson': JSON.stringify({ kind: 'bin', name: 's' }),
  'ExpWriteOp.expressionJson': JSON.stringify({ kind: 'bin', name: 's' }),
  'UdfCall.function': 'nope',
  'UdfCall.module': 'nope',
  'ExecuteRequest.text': 'SHOW SETS',
  'AqlSettings.output': 'json',
  'CreateIndexRequest.type': 'STRING',
  'CreateIndexRequest.collection': 'LIST',
  'QueryRequest.orderBy': 'a',
  'QueryRequest.cursor': 'bogus',
  'QueryRequest.whileBuilding': 'fail',
  'AggregateRequest.function': 'sum',
  'ConfigChange.valueJson': '2500',
  'ConfigChange.name': 'udf.memoryLimitMb',
  'SecurityPrivilege.name': 'write',
  'ImportRequest.keyColumn': 'a',
  'ExportRequest.schemaJson': '{"fields":[{"name":"a","type":"string"}]}',
  'RegisterModuleRequest.source': 'export function f() { return 2; }\n',
  'RegisterModuleRequest.fileName': 'other.js',
  'ClientFile.path': 'y.js',
  'TruncateRequest.beforeMs': '1',
  maxRecords: '1',
  limit: '1',
  'RestoreRecord.lastUpdateMs': '2000',
  'RestoreRecordsRequest.policy': 'RESTORE_POLICY_CREATE_ONLY',
  'ImportRequest.typesJson': '{"a":"int"}',
  // aql's defaults are on: the sample turns them off
  'AqlSettings.keySend': false,
  'AqlSettings.outputTypes': false,
  'WritePolicy.exists': 'EXISTS_ACTION_CREATE_ONLY',
  'KillJobRequest.id': '999999',
};

interface Variant {
  readonly label: string;
  /** "Type.field" of the field this variant sets. */
  readonly field: string;
  make(base: Json): Json;
  /** With a companion: the request it is compared with (the companion without the field). */
  readonly baseline?: (base: Json) => Json;
  /** A present-but-empty message with fields of its own: proven through those fields instead. */
  readonly container: boolean;
}

const clone = (x: Json): Json => structuredClone(x);

/**
 * Fields that show only beside another one (a generation under a generation policy, a UDF
 * timeout on a slow function): the variant sets the companion too, and is compared with the
 * request that has the companion alone.
 */
const SELECT_K1 = { $root: { text: "SELECT * FROM test.f WHERE PK = 'k1'" } };
const WRITE_OP = { $root: { operations: [{ add: { bin: 'a', value: { int: '1' } } }] } };
const COMPANIONS: Readonly<Record<string, Json>> = {
  'WritePolicy.generation': { generationPolicy: 'GENERATION_POLICY_EXPECT_EQUAL' },
  'UdfCall.timeoutMs': { module: 'ef', function: 'slow', args: [] },
  // a put that removes every bin deletes the record (the fixture without list, map, bytes, HLL bins)
  'KeyValueService.Put:WritePolicy.durableDelete': { $root: { bins: [{ name: 'a', value: { nil: {} } }, { name: 's', value: { nil: {} } }] } },
  'KeyValueService.Operate:WritePolicy.exists': WRITE_OP,
  'KeyValueService.Operate:WritePolicy.generationPolicy': WRITE_OP,
  'KeyValueService.Operate:WritePolicy.generation': { generationPolicy: 'GENERATION_POLICY_EXPECT_EQUAL', ...WRITE_OP },
  'KeyValueService.Operate:WritePolicy.ttl': WRITE_OP,
  'KeyValueService.Operate:WritePolicy.sendKey': WRITE_OP,
  'KeyValueService.Operate:WritePolicy.durableDelete': { $root: { operations: [{ delete: {} }] } },
  'KeyValueService.StartOperationJob:WritePolicy.durableDelete': { $root: { operations: [{ delete: {} }] } },
  'UdfService.StartBackgroundJob:WritePolicy.durableDelete': { $root: { call: { module: 'ef', function: 'del' } } },
  'UdfService.ApplyRecordUdf:WritePolicy.durableDelete': { $root: { call: { module: 'ef', function: 'del' } } },
  'SetPasswordRequest.oldPassword': { user: 'admin', password: ADMIN_PASSWORD },
  'AqlSettings.timeoutMs': { $root: { text: "EXECUTE ef.slow() ON test.f WHERE PK = 'k1'" } },
  'AqlSettings.recordTtl': { $root: { text: "INSERT INTO test.f (PK, a) VALUES ('k2', 9)" } },
  // settings the client renders with (and aql's key-send, read back by GET): the session's GET shows them
  'AqlSettings.keySend': { $root: { text: 'GET KEY_SEND' } },
  'AqlSettings.durableDelete': { $root: { text: "DELETE FROM test.f WHERE PK = 'k2'" } },
  'AqlSettings.recordPrintMetadata': SELECT_K1,
  'AqlSettings.noBins': { $root: { text: 'SELECT * FROM test.f' } },
  'AqlSettings.outputTypes': { $root: { text: 'GET OUTPUT_TYPES' } },
  'AqlSettings.output': { $root: { text: 'GET OUTPUT' } },
  'AqlSettings.scanRecordsPerSecond': { $root: { text: "EXECUTE ef.add('a', 1) ON test.f" } },
  'ExecuteRequest.files': { $root: { text: "REGISTER MODULE 'x.js'" } },
  'ClientFile.path': { $root: { text: "REGISTER MODULE 'x.js'" } },
  'ClientFile.content': { $root: { text: "REGISTER MODULE 'x.js'" } },
};

function withCompanion(rpc: string, t: protobuf.Type, f: protobuf.Field, at: (req: Json) => Json, setField: (o: Json) => void): Pick<Variant, 'make' | 'baseline'> {
  const companion = COMPANIONS[`${rpc}:${t.name}.${f.name}`] ?? COMPANIONS[`${t.name}.${f.name}`];
  const addCompanion = (r: Json): void => {
    if (companion === undefined) return;
    const { $root, ...own } = companion as Json & { $root?: Json };
    if ($root !== undefined) Object.assign(r, structuredClone($root));
    Object.assign(at(r), structuredClone(own));
  };
  const make = (req: Json): Json => {
    const r = clone(req);
    addCompanion(r);
    setField(at(r));
    return r;
  };
  if (companion === undefined) return { make };
  return { make, baseline: (req) => { const r = clone(req); addCompanion(r); return r; } };
}

/** Every single-field variant of a request, walked from the descriptors. */
function variantsOf(rpc: string, type: protobuf.Type, sc: Scenario): Variant[] {
  const out: Variant[] = [];
  const expandValues = sc.expandValues === true;
  const SEEDS = { ...SHARED_SEEDS, ...sc.seeds };
  const walk = (t: protobuf.Type, at: (req: Json) => Json, label: string, stack: readonly string[], base: Json | undefined): void => {
    for (const f of t.fieldsArray) {
      const name = `${label}.${f.name}`;
      const set = (o: Json, v: unknown): void => {
        if (f.partOf !== null) for (const s of f.partOf.fieldsArray) delete o[s.name];
        o[f.name] = f.repeated ? [v] : v;
      };
      const inBase = base?.[f.name];
      const T = f.resolvedType;
      if (T instanceof protobuf.Type) {
        const expand = sc.refusedWhole?.[name] === undefined && !stack.includes(T.name) && (T.name !== 'Value' || expandValues) && stack.length < 6;
        const baseChild = Array.isArray(inBase) ? inBase[0] as Json | undefined : inBase as Json | undefined;
        if (baseChild === undefined || !expand) {
          const seed = inBase === undefined ? SEEDS[T.name] ?? {} : { ...(SEEDS[`${T.name}:alt`] ?? { string: 'other' }) };
          out.push({ label: name, field: `${t.name}.${f.name}`, container: expand && T.fieldsArray.length > 0, ...withCompanion(rpc, t, f, at, (o) => set(o, structuredClone(seed))) });
        }
        if (expand) {
          const child = (req: Json): Json => {
            const o = at(req);
            const cur = f.repeated ? (o[f.name] as Json[] | undefined)?.[0] : o[f.name] as Json | undefined;
            if (cur !== undefined) return cur;
            const c = structuredClone(SEEDS[T.name] ?? {});
            set(o, c);
            return c;
          };
          walk(T, child, name, [...stack, T.name], baseChild ?? SEEDS[T.name] ?? {});
        }
      } else {
        out.push({ label: name, field: `${t.name}.${f.name}`, container: false, ...withCompanion(rpc, t, f, at, (o) => set(o, sample(t, f, f.repeated ? (o[f.name] as unknown[] | undefined)?.[0] : o[f.name]))) });
      }
    }
  };
  walk(type, (r) => r, type.name, [type.name], undefined);
  return out;
}

class Harness {
  readonly raw: Client;
  token = '';
  /** u1's password may have changed: the security reset creates it again. */
  u1Changed = true;
  /** The job the JOB state started. */
  jobId = '0';
  readonly t: TestNode;
  constructor(t: TestNode) {
    this.t = t;
    this.raw = new Client(`127.0.0.1:${t.node.port}`, credentials.createInsecure());
  }
  private md(): Metadata {
    const md = new Metadata();
    if (this.token !== '') md.set('authorization', `Bearer ${this.token}`);
    return md;
  }
  /** Calls a method with a request in protobufjs JSON; resolves with the result code and responses. */
  call(method: protobuf.Method, request: Json): Promise<{ code: number; message: string; responses: unknown[] }> {
    const reqType = method.resolvedRequestType as protobuf.Type;
    const resType = method.resolvedResponseType as protobuf.Type;
    const path = `/${(method.parent as protobuf.Service).fullName.replace(/^\./, '')}/${method.name}`;
    const bytes = Buffer.from(reqType.encode(reqType.fromObject(request)).finish());
    const decode = (b: Buffer): unknown => resType.toObject(resType.decode(b), { enums: String, longs: String, bytes: String, defaults: false });
    const ident = (b: Buffer): Buffer => b;
    const failed = (err: ServiceError) => {
      const c = err.metadata?.get(RESULT_CODE_HEADER)[0];
      return { code: typeof c === 'string' ? Number(c) : -1, message: err.details ?? err.message, responses: [] };
    };
    const options = { deadline: Date.now() + 20_000 };
    return new Promise((resolve) => {
      if (method.requestStream) {
        const s = this.raw.makeClientStreamRequest(path, ident, decode, this.md(), options, (err, value) => {
          resolve(err ? failed(err) : { code: 0, message: '', responses: [value] });
        });
        s.write(bytes);
        s.end();
      } else if (method.responseStream) {
        const s = this.raw.makeServerStreamRequest(path, ident, decode, bytes, this.md(), options);
        const responses: unknown[] = [];
        let done = false;
        s.on('data', (d: unknown) => responses.push(d));
        s.on('error', (err: ServiceError) => { if (!done) { done = true; resolve(failed(err)); } });
        s.on('end', () => { if (!done) { done = true; resolve({ code: 0, message: '', responses }); } });
      } else {
        this.raw.makeUnaryRequest(path, ident, decode, bytes, this.md(), options, (err, value) => {
          resolve(err ? failed(err) : { code: 0, message: '', responses: [value] });
        });
      }
    });
  }
  /** Calls a method by "Service.Method" and fails the test when it does not succeed. */
  async ok(name: string, request: Json): Promise<unknown[]> {
    const r = await this.call(method(name), request);
    assert.equal(r.code, 0, `${name}: ${r.message}`);
    return r.responses;
  }
  async login(): Promise<void> {
    this.token = '';
    const [r] = await this.ok('SecurityService.Login', { user: 'admin', password: ADMIN_PASSWORD });
    this.token = (r as { token: string }).token;
  }
}

function method(name: string): protobuf.Method {
  const [service, m] = name.split('.') as [string, string];
  const found = protoRoot().lookupService(`slipstream.v1.${service}`).methods[m];
  assert.ok(found !== undefined, name);
  return found;
}

const key = (k: string, set = 'f'): Json => ({ namespace: 'test', set, stringKey: k });
const HLL = Buffer.from(Sketch.empty(8, 0).toHll().bytes).toString('base64');
/** The fixture record every data scenario starts from. */
const FIXTURE: Json[] = [
  { name: 'a', value: { int: '1' } }, { name: 's', value: { string: 'str' } },
  { name: 'l', value: { list: { items: [{ int: '3' }, { int: '1' }, { int: '2' }] } } },
  { name: 'm', value: { map: { entries: [{ key: { string: 'a' }, value: { int: '1' } }, { key: { string: 'b' }, value: { int: '2' } }] } } },
  { name: 'b', value: { bytes: Buffer.from([0xf0, 0x0f]).toString('base64') } }, { name: 'h', value: { hll: HLL } },
];

/** Every record a variant may have written: the fixture keys and the sample keys, sets and namespaces. */
const STRAY_KEYS: readonly Json[] = ['test', 'other'].flatMap((namespace) => ['f', 'r', 'x1', 'x2'].flatMap((set) => [
  { stringKey: 'k1' }, { stringKey: 'k2' }, { stringKey: 'r1' }, { stringKey: 'x1' }, { stringKey: 'x2' }, { intKey: '3' },
  { bytesKey: Buffer.from([1, 2, 3]).toString('base64') }, { digest: Buffer.alloc(20, 7).toString('base64') },
].map((id) => ({ namespace, set, ...id }))));

/** One batch: every stray record deleted, the fixture records written. */
async function resetRecords(h: Harness, binsMissing = false): Promise<void> {
  await h.ok('KeyValueService.BatchOperate', {
    entries: [
      ...STRAY_KEYS.map((k) => ({ key: k, delete: {} })),
      { key: key('k1'), put: { bins: binsMissing ? [{ name: 'a', value: { int: '1' } }, { name: 's', value: { string: 'str' } }] : FIXTURE } },
      { key: key('k2'), put: { bins: [{ name: 'a', value: { int: '7' } }] } },
      { key: key('r1', 'r'), put: { bins: [{ name: 'a', value: { int: '2' } }] } },
    ],
  });
}

const RECORDS: State = { name: 'records', reset: (h) => resetRecords(h) };
const BINS_MISSING: State = { name: 'list, map, bytes and HLL bins missing', reset: (h) => resetRecords(h, true) };
const DATA = [RECORDS, BINS_MISSING] as const;

async function readRecords(h: Harness): Promise<unknown> {
  const out: unknown[] = [await h.call(method('KeyValueService.BatchGet'), { keys: [key('k1'), key('k2'), key('r1', 'r')] })];
  // a durable delete leaves a tombstone: the namespace counts them
  const [ns] = await h.ok('AdminService.ListNamespaces', {});
  out.push((ns as { namespaces: Array<{ name: string; tombstones?: string }> }).namespaces.map((n) => `${n.name}:${n.tombstones ?? 0}`));
  return out;
}

/** Users and roles back to the start: only admin, no custom role, and the fixture user and role. */
async function resetSecurity(h: Harness): Promise<void> {
  // passwords are hashed slowly (bcrypt, scrypt): log in and re-create u1 only when a call changed them
  if ((await h.call(method('SecurityService.WhoAmI'), {})).code !== 0) await h.login();
  for (const u of ['x1', 'x2']) await h.call(method('SecurityService.DropUser'), { user: u });
  for (const r of ['r1', 'x1', 'x2']) await h.call(method('SecurityService.DropRole'), { role: r });
  await h.ok('SecurityService.CreateRole', { role: 'r1', privileges: [{ name: 'read' }] });
  const [users] = await h.ok('SecurityService.ListUsers', { user: 'u1' }).catch(() => [undefined]);
  const u1 = (users as { users?: Array<{ user: string; roles?: string[] }> } | undefined)?.users?.find((u) => u.user === 'u1');
  if (h.u1Changed || u1 === undefined || JSON.stringify(u1.roles ?? []) !== '["read"]') {
    await h.call(method('SecurityService.DropUser'), { user: 'u1' });
    await h.ok('SecurityService.CreateUser', { user: 'u1', password: 'pw-u1', roles: ['read'] });
    h.u1Changed = false;
  }
}
const SECURITY: State = { name: 'security', reset: resetSecurity };
/** Users and roles as listed, and (passwords being slow to check) only the logins a scenario names. */
const readSecurity = (...logins: ReadonlyArray<readonly [string, string]>) => async (h: Harness): Promise<unknown> => {
  const codes: number[] = [];
  for (const [user, password] of logins) codes.push((await h.call(method('SecurityService.Login'), { user, password })).code);
  return [await h.call(method('SecurityService.ListUsers'), {}), await h.call(method('SecurityService.ListRoles'), {}), codes];
};
/** u1 as the fixture made it (its password may have been changed by the last call). */
const FRESH_U1: State = { name: 'security, u1 new', reset: async (h) => { h.u1Changed = true; await resetSecurity(h); } };

async function resetModules(h: Harness): Promise<void> {
  await resetRecords(h);
  for (const m of ['other.js', 'x1.js', 'x.js', 'y.js']) await h.call(method('UdfService.RemoveModule'), { name: m });
  await h.ok('UdfService.RegisterModule', { fileName: 'ef.js', source: MODULE });
}
const MODULES: State = { name: 'modules', reset: resetModules };

async function resetIndexes(h: Harness): Promise<void> {
  await resetRecords(h);
  for (const n of ['i1', 'x1', 'x2']) for (const ns of ['test', 'other']) await h.call(method('QueryService.DropIndex'), { namespace: ns, name: n });
  await h.ok('QueryService.CreateIndex', { namespace: 'test', name: 'i1', set: 'f', bin: 'a', type: 'NUMERIC' });
}
const INDEXES: State = { name: 'indexes', reset: resetIndexes };

const NONE: State = { name: 'as is', reset: async () => undefined };
const CONFIG: State = {
  name: 'config',
  reset: async (h) => { await h.ok('AdminService.SetConfig', { changes: [{ name: 'udf.defaultTimeoutMs', valueJson: '1000' }, { name: 'udf.memoryLimitMb', valueJson: '64' }] }); },
};

/** A slow job running: one record a second over the fixture set. */
const JOB: State = {
  name: 'a job running',
  reset: async (h) => {
    await resetRecords(h);
    const [r] = await h.ok('KeyValueService.StartOperationJob', { target: { namespace: 'test', set: 'f' }, operations: [{ add: { bin: 'a', value: { int: '1' } } }], recordsPerSecond: 1 });
    h.jobId = String((r as { job: { id: string } }).job.id);
  },
};

/** The newest job (jobs pile up over the runs), without its id. */
const jobsOf = async (h: Harness): Promise<Json | undefined> => {
  const [r] = await h.ok('UdfService.ListJobs', {});
  const jobs = ((r as { jobs?: Json[] }).jobs ?? []).sort((a, b) => Number(b.id) - Number(a.id));
  return jobs[0] === undefined ? undefined : { ...jobs[0], id: undefined };
};

/** Waits for the newest job to end, then reads the records and the job. */
async function afterJob(h: Harness): Promise<unknown> {
  for (let i = 0; i < 500; i++) {
    const j = await jobsOf(h);
    if (j === undefined || !/running/i.test(String(j.status))) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  return [await readRecords(h), await jobsOf(h)];
}

/** The scenarios, one per RPC (every RPC must have one). */
const SCENARIOS: Readonly<Record<string, Scenario>> = {
  'KeyValueService.Put': { base: { key: key('k1'), bins: [{ name: 'n', value: { int: '5' } }] }, states: DATA, probe: readRecords, expandValues: true },
  'KeyValueService.Get': { base: { key: key('k1') }, states: [RECORDS] },
  'KeyValueService.Exists': { base: { key: key('k1') }, states: [RECORDS] },
  'KeyValueService.Delete': { base: { key: key('k1') }, states: [RECORDS], probe: readRecords },
  'KeyValueService.Touch': { base: { key: key('k1') }, states: [RECORDS], probe: readRecords },
  'KeyValueService.Operate': { base: { key: key('k1'), operations: [{ read: { bin: 'a' } }] }, states: DATA, probe: readRecords },
  'KeyValueService.BatchGet': { base: { keys: [key('k1')] }, states: [RECORDS] },
  'KeyValueService.BatchOperate': { base: { entries: [{ key: key('k1'), read: {} }] }, states: DATA, probe: readRecords },
  'KeyValueService.StartOperationJob': {
    base: { target: { namespace: 'test', set: 'f' }, operations: [{ add: { bin: 'a', value: { int: '1' } } }] }, states: [RECORDS],
    seeds: {
      Operation: { add: { bin: 'a', value: { int: '1' } } },
      BitOp: { bin: 'b', kind: 'BIT_OP_KIND_NOT', offset: '0', size: '8' },
      HllOp: { bin: 'h', kind: 'HLL_OP_KIND_ADD', values: [{ string: 'v' }] },
    },
    refusedWhole: {
      'StartOperationJobRequest.operations.read': 'a job returns nothing per record: reads are refused',
      'StartOperationJobRequest.operations.readHeader': 'a job returns nothing per record: reads are refused',
      'StartOperationJobRequest.operations.expRead': 'a job returns nothing per record: reads are refused',
    },
    probe: afterJob,
  },
  'KeyValueService.Scan': { base: { namespace: 'test', set: 'f' }, states: [RECORDS] },
  'KeyValueService.Truncate': { base: { namespace: 'test', set: 'f' }, states: [RECORDS], probe: readRecords },
  'AdminService.GetNodeInfo': { base: {}, states: [NONE] },
  'AdminService.ListNamespaces': { base: {}, states: [NONE] },
  'AdminService.ListSets': { base: { namespace: 'test' }, states: [RECORDS] },
  'AdminService.ListBins': { base: { namespace: 'test' }, states: [RECORDS] },
  'AdminService.GetStatistics': { base: { namespace: 'test' }, states: [NONE] },
  'AdminService.ListPlugins': { base: {}, states: [NONE] },
  'AdminService.GetConfig': { base: {}, states: [NONE] },
  'AdminService.SetConfig': { base: { changes: [{ name: 'udf.defaultTimeoutMs', valueJson: '1500' }] }, states: [CONFIG], probe: async (h) => h.ok('AdminService.GetConfig', {}) },
  'AqlService.Execute': { base: { text: 'SHOW NAMESPACES' }, states: [MODULES], probe: async (h) => [await readRecords(h), await h.ok('UdfService.ListModules', {}), await jobsOf(h)] },
  'ClusterService.GetClusterInfo': { base: {}, states: [NONE] },
  'ClusterService.GetPartitionMap': { base: { namespace: 'test' }, states: [NONE] },
  'ClusterService.GetPartitionDigests': { base: { namespace: 'test' }, states: [RECORDS] },
  'ClusterService.Quiesce': { base: {}, states: [NONE] },
  'DataService.RestoreRecords': { base: { namespace: 'test', records: [SHARED_SEEDS.RestoreRecord] }, states: [RECORDS], probe: readRecords },
  'DataService.Export': { base: { namespace: 'test', set: 'f', format: 'COLUMNAR_FORMAT_ARROW_IPC', bins: ['a'] }, states: [RECORDS] },
  'DataService.Import': {
    base: { namespace: 'test', set: 'r', format: 'COLUMNAR_FORMAT_CSV', keyColumn: 'k', chunk: Buffer.from('k,a\nr1,5\n').toString('base64') },
    states: [RECORDS], probe: readRecords,
  },
  'QueryService.CreateIndex': { base: { namespace: 'test', name: 'x2', set: 'f', bin: 's', type: 'STRING' }, states: [INDEXES], probe: async (h) => h.ok('QueryService.ListIndexes', { namespace: 'test' }) },
  'QueryService.DropIndex': { base: { namespace: 'test', name: 'i1' }, states: [INDEXES], probe: async (h) => h.ok('QueryService.ListIndexes', { namespace: 'test' }) },
  'QueryService.ListIndexes': { base: { namespace: 'test' }, states: [INDEXES] },
  'QueryService.GetIndexStat': { base: { namespace: 'test', name: 'i1' }, states: [INDEXES] },
  'QueryService.Query': { base: { namespace: 'test', set: 'f' }, states: [INDEXES] },
  'QueryService.Aggregate': { base: { query: { namespace: 'test', set: 'f' }, function: 'count' }, states: [INDEXES] },
  'QueryService.Explain': { base: { query: { namespace: 'test', set: 'f' } }, states: [INDEXES] },
  'SecurityService.Login': { base: { user: 'u1', password: 'pw-u1' }, states: [SECURITY] },
  'SecurityService.WhoAmI': { base: {}, states: [SECURITY] },
  'SecurityService.CreateUser': { base: { user: 'x2', password: 'pw-x2', roles: ['read'] }, states: [SECURITY], probe: readSecurity(['x2', 'pw-x2']) },
  'SecurityService.DropUser': { base: { user: 'u1' }, states: [SECURITY], probe: readSecurity() },
  'SecurityService.SetPassword': { base: { user: 'u1', password: 'pw-new' }, states: [FRESH_U1], probe: readSecurity(['u1', 'pw-new']) },
  'SecurityService.GrantRoles': { base: { user: 'u1', roles: ['write'] }, states: [SECURITY], probe: readSecurity() },
  'SecurityService.RevokeRoles': { base: { user: 'u1', roles: ['read'] }, states: [SECURITY], probe: readSecurity() },
  'SecurityService.ListUsers': { base: {}, states: [SECURITY] },
  'SecurityService.CreateRole': { base: { role: 'x2', privileges: [{ name: 'read' }] }, states: [SECURITY], probe: readSecurity() },
  'SecurityService.DropRole': { base: { role: 'r1' }, states: [SECURITY], probe: readSecurity() },
  'SecurityService.GrantPrivileges': { base: { role: 'r1', privileges: [{ name: 'write' }] }, states: [SECURITY], probe: readSecurity() },
  'SecurityService.RevokePrivileges': { base: { role: 'r1', privileges: [{ name: 'read' }] }, states: [SECURITY], probe: readSecurity() },
  'SecurityService.SetWhitelist': { base: { role: 'r1', whitelist: ['127.0.0.1'] }, states: [SECURITY], probe: readSecurity() },
  'SecurityService.SetQuotas': { base: { role: 'r1', readQuota: 10 }, states: [SECURITY], probe: readSecurity() },
  'SecurityService.ListRoles': { base: {}, states: [SECURITY] },
  'SecurityService.RotateSessionSecret': {
    base: {}, states: [SECURITY],
    // whether the token from before the rotation still works
    probe: async (h) => {
      const code = (await h.call(method('SecurityService.WhoAmI'), {})).code;
      await h.login();
      return code;
    },
  },
  'UdfService.RegisterModule': { base: { fileName: 'x1.js', source: 'export function f() { return 1; }\n' }, states: [MODULES], probe: async (h) => h.ok('UdfService.ListModules', {}) },
  'UdfService.ListModules': { base: {}, states: [MODULES] },
  'UdfService.GetModule': { base: { name: 'ef.js' }, states: [MODULES] },
  'UdfService.RemoveModule': { base: { name: 'ef.js' }, states: [MODULES], probe: async (h) => h.ok('UdfService.ListModules', {}) },
  'UdfService.ApplyRecordUdf': { base: { key: key('k1'), call: SHARED_SEEDS.UdfCall }, states: [MODULES], probe: readRecords },
  'UdfService.Aggregate': { base: { target: { namespace: 'test', set: 'f' }, call: { module: 'ef', function: 'count' } }, states: [MODULES] },
  'UdfService.StartBackgroundJob': {
    base: { target: { namespace: 'test', set: 'f' }, call: SHARED_SEEDS.UdfCall }, states: [MODULES],
    probe: afterJob,
  },
  'UdfService.ListJobs': { base: {}, states: [NONE] },
  'UdfService.KillJob': { base: { id: '$job' }, states: [JOB], probe: jobsOf },
};

/** The result minus what differs between two runs of the same request. */
function flatten(x: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (x !== null && typeof x === 'object') {
    const entries = Array.isArray(x) ? x.map((v, i) => [String(i), v] as const) : Object.entries(x as Json);
    if (entries.length === 0) out.set(prefix, Array.isArray(x) ? '[]' : '{}');
    for (const [k, v] of entries) flatten(v, `${prefix}/${k}`, out);
  } else {
    out.set(prefix, JSON.stringify(x));
  }
  return out;
}

function differs(a: Map<string, string>, b: Map<string, string>, volatile: ReadonlySet<string>): boolean {
  const paths = new Set([...a.keys(), ...b.keys()]);
  for (const p of paths) if (!volatile.has(p) && a.get(p) !== b.get(p)) return true;
  return false;
}

describe('server/every request field is honoured or refused', function () {
  this.timeout(600_000);
  let t: TestNode;
  let h: Harness;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipstream-every-field-'));
    writeFileSync(join(dir, 'admin.password'), `${ADMIN_PASSWORD}\n`);
    t = await startTestNode({
      config: {
        node: { id: 'A1', host: '127.0.0.1', port: 0, dataDir: dir },
        namespaces: [{ name: 'test', storage: 'storage-memory' }, { name: 'other', storage: 'storage-memory' }],
        security: { adminPasswordFile: 'admin.password', sessionTtl: 3600 },
      },
    });
    h = new Harness(t);
    await h.login();
    await h.ok('UdfService.RegisterModule', { fileName: 'ef.js', source: MODULE });
  });
  after(async () => {
    h?.raw.close();
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has a scenario for every RPC of every service', () => {
    const rpcs: string[] = [];
    for (const s of (protoRoot().lookup('slipstream.v1') as protobuf.Namespace).nestedArray) {
      if (s instanceof protobuf.Service) for (const m of s.methodsArray) rpcs.push(`${s.name}.${m.name}`);
    }
    assert.ok(rpcs.length >= 57, `${rpcs.length} RPCs`);
    assert.deepEqual(rpcs.filter((r) => SCENARIOS[r] === undefined), [], 'RPCs without a scenario');
    assert.deepEqual(Object.keys(SCENARIOS).filter((r) => !rpcs.includes(r)), [], 'scenarios of RPCs that do not exist');
  });

  it('sets every field of every request message: each changes the result or is refused with PARAMETER', async () => {
    const dropped: string[] = [];
    let honoured = 0;
    let refused = 0;
    let elsewhere = 0;
    for (const [rpc, sc] of Object.entries(SCENARIOS)) {
      if (process.env.EVERY_FIELD_ONLY !== undefined && !new RegExp(process.env.EVERY_FIELD_ONLY).test(rpc)) continue;
      const m = method(rpc);
      const run = async (state: State, request: Json): Promise<Outcome> => {
        await state.reset(h);
        const r = await h.call(m, JSON.parse(JSON.stringify(request).replaceAll('"$job"', `"${h.jobId}"`)) as Json);
        const probe = sc.probe === undefined ? undefined : await sc.probe(h);
        return { ...r, probe };
      };
      const baselineOf = async (state: State, request: Json): Promise<{ flat: Map<string, string>; volatile: Set<string> }> => {
        const one = await run(state, request);
        const two = await run(state, request);
        assert.notEqual(one.code, 4, `${rpc}: the base request is refused in state ${state.name}: ${one.message}`);
        const a = flatten({ code: one.code, message: one.message, responses: one.responses, probe: one.probe });
        const b = flatten({ code: two.code, message: two.message, responses: two.responses, probe: two.probe });
        return { flat: a, volatile: new Set([...a.keys(), ...b.keys()].filter((p) => a.get(p) !== b.get(p))) };
      };
      const baselines = new Map<State, { flat: Map<string, string>; volatile: Set<string> }>();
      for (const state of sc.states) baselines.set(state, await baselineOf(state, sc.base));
      const started = Date.now();
      const variants = variantsOf(rpc, m.resolvedRequestType as protobuf.Type, sc);
      const refusedParents: string[] = [];
      for (const v of variants) {
        if (refusedParents.some((p) => v.label.startsWith(p))) { refused++; continue; }
        let result: 'honoured' | 'refused' | 'dropped' = 'dropped';
        let last = '';
        for (const state of sc.states) {
          const o = await run(state, v.make(sc.base));
          if (process.env.EVERY_FIELD_SHOW === v.label) console.log(JSON.stringify(v.make(sc.base)), JSON.stringify(o), JSON.stringify([...(baselines.get(state)?.flat ?? [])]), JSON.stringify([...(baselines.get(state)?.volatile ?? [])]));
          if (o.code === 4) { result = 'refused'; last = o.message; break; }
          const base = v.baseline === undefined ? baselines.get(state) as { flat: Map<string, string>; volatile: Set<string> } : await baselineOf(state, v.baseline(sc.base));
          if (process.env.EVERY_FIELD_SHOW === v.label) console.log('BASE', JSON.stringify(v.baseline?.(sc.base)), JSON.stringify([...base.flat].filter(([k]) => k.includes('respon'))), JSON.stringify([...base.volatile]));
          if (differs(base.flat, flatten({ code: o.code, message: o.message, responses: o.responses, probe: o.probe }), base.volatile)) { result = 'honoured'; break; }
          last = `code ${o.code}${o.message === '' ? '' : ` ${o.message}`}`;
        }
        if (sc.refusedWhole?.[v.label] !== undefined) {
          assert.equal(result, 'refused', `${rpc}: ${v.label} should be refused as a whole (${sc.refusedWhole[v.label]})`);
          refused++;
          continue;
        }
        if (v.container && result === 'refused') {
          // refused naming the field (a policy on a read, items on a put): its own fields go with it;
          // a seed refused for another reason would make every field under it look refused
          const words = [v.label.split('.').pop() as string].map((f) => (f === 'ctx' ? 'context' : f.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`)));
          if (words.some((w) => last.toLowerCase().includes(w))) {
            refusedParents.push(`${v.label}.`);
            refused++;
            continue;
          }
          dropped.push(`${rpc}: ${v.label} — the seed of this message is refused (${last}): give SEEDS a valid one`);
          continue;
        }
        if (result === 'honoured') honoured++;
        else if (result === 'refused') refused++;
        else if (v.container) { /* proven through its own fields */ }
        else if (ELSEWHERE[v.field] !== undefined) elsewhere++;
        else dropped.push(`${rpc}: ${v.label} (${last})`);
        void last;
      }
      if (process.env.EVERY_FIELD_DEBUG !== undefined) console.log(`${rpc}: ${variants.length} variants, ${Date.now() - started} ms`);
    }
    console.log(`      ${honoured} fields changed the result, ${refused} were refused with PARAMETER, ${elsewhere} are proven elsewhere`);
    assert.deepEqual(dropped, [], 'fields set in a request that neither changed the result nor were refused');
  });
});
