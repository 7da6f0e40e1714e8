import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, type Client, type MethodDefinition } from '@grpc/grpc-js';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { KeyValueServiceService } from '../../core/wire/generated/slipstream/v1/kv.ts';
import { AdminServiceService } from '../../core/wire/generated/slipstream/v1/admin.ts';
import { ClusterServiceService } from '../../core/wire/generated/slipstream/v1/cluster.ts';
import { QueryServiceService } from '../../core/wire/generated/slipstream/v1/query.ts';
import { UdfServiceService } from '../../core/wire/generated/slipstream/v1/udf.ts';
import { AqlServiceService } from '../../core/wire/generated/slipstream/v1/aql.ts';
import { SecurityServiceService } from '../../core/wire/generated/slipstream/v1/security.ts';
import { DataServiceService } from '../../core/wire/generated/slipstream/v1/data.ts';
import { METHOD_RULES } from '../../core/server/security-guard.ts';
import { PRIVILEGE_NAMES, type PrivilegeName } from '../../core/security/privileges.ts';
import { bearer, login, rawCall, rawClient } from './helpers.ts';
import { DbError, SlipstreamClient } from '../../core/client/index.ts';

const ADMIN_PASSWORD = 'correct horse battery staple';
const key = (set = 's', k = 'k') => ({ namespace: 'test', set, id: { $case: 'stringKey' as const, value: k } });
const str = (v: string) => ({ kind: { $case: 'string' as const, value: v } });
const MODULE = 'export function touchIt(rec) { return 1; }\nexport function agg(stream) { return stream; }\n';

type Need = 'info' | 'read' | 'write' | 'udf' | 'truncate' | 'sindex-admin' | 'udf-admin' | 'job-admin' | 'user-admin' | 'sys-admin';

/** Which predefined role holds which need, written out by hand from Aerospike's privilege descriptions. */
const HOLDERS: Readonly<Record<Need, readonly PrivilegeName[]>> = {
  'info': PRIVILEGE_NAMES,
  'read': ['read', 'read-write', 'read-write-udf'],
  'write': ['write', 'read-write', 'read-write-udf'],
  'udf': ['read-write-udf'],
  'truncate': ['truncate', 'data-admin', 'sys-admin'],
  'sindex-admin': ['sindex-admin', 'data-admin', 'sys-admin'],
  'udf-admin': ['udf-admin', 'data-admin', 'sys-admin'],
  'job-admin': ['data-admin', 'sys-admin'],
  'user-admin': ['user-admin'],
  'sys-admin': ['sys-admin'],
};

interface Case { readonly method: MethodDefinition<unknown, unknown>; readonly request: unknown; readonly needs: Need }
/** A case; fields the request leaves out take their defaults (the decoding of an empty message). */
const c = <Req, Res>(method: MethodDefinition<Req, Res>, request: object, needs: Need): Case =>
  ({ method: method as unknown as MethodDefinition<unknown, unknown>, request: { ...(method.requestDeserialize(Buffer.alloc(0)) as object), ...request }, needs });
const query = (set: string) => ({ ...QueryServiceService.query.requestDeserialize(Buffer.alloc(0)), namespace: 'test', set });
const call = (module: string, fn: string) => ({ module, function: fn, args: [], timeoutMs: 0 });

/** One case per method of every service (a new method must be added here and in the guard's table). */
const CASES: readonly Case[] = [
  c(KeyValueServiceService.put, { key: key(), bins: [{ name: 'b', value: str('v') }] }, 'write'),
  c(KeyValueServiceService.get, { key: key(), bins: [], headerOnly: false, filterJson: '' }, 'read'),
  c(KeyValueServiceService.exists, { key: key(), filterJson: '' }, 'read'),
  c(KeyValueServiceService.delete, { key: key('s', 'gone') }, 'write'),
  c(KeyValueServiceService.touch, { key: key() }, 'write'),
  c(KeyValueServiceService.operate, { key: key(), operations: [{ op: { $case: 'write', value: { bin: 'b', value: str('w') } } }] }, 'write'),
  c(KeyValueServiceService.batchGet, { keys: [key()], bins: [], headerOnly: false, filterJson: '' }, 'read'),
  c(KeyValueServiceService.scan, { namespace: 'test', set: 's' }, 'read'),
  c(KeyValueServiceService.truncate, { namespace: 'test', set: 'nothing-here' }, 'truncate'),
  c(KeyValueServiceService.batchOperate, { entries: [{ key: key('s', 'b1'), action: { $case: 'put', value: { bins: [{ name: 'b', value: str('v') }] } } }] }, 'write'),
  c(KeyValueServiceService.startOperationJob, { target: { namespace: 'test', set: 'jobs', filterJson: '' }, operations: [{ op: { $case: 'write', value: { bin: 'b', value: str('j') } } }], recordsPerSecond: 0 }, 'write'),
  c(AdminServiceService.getNodeInfo, {}, 'info'),
  c(AdminServiceService.listNamespaces, {}, 'info'),
  c(AdminServiceService.listSets, { namespace: '' }, 'info'),
  c(AdminServiceService.listBins, { namespace: '' }, 'info'),
  c(AdminServiceService.getStatistics, { namespace: '' }, 'info'),
  c(AdminServiceService.listPlugins, {}, 'info'),
  c(AdminServiceService.getConfig, {}, 'info'),
  c(AdminServiceService.setConfig, { settings: [] }, 'sys-admin'),
  c(DataServiceService.restoreRecords, { namespace: 'test', records: [{ set: 'restored', digest: new Uint8Array(20), bins: [{ name: 'b', value: str('v') }], generation: 1, voidTime: 0, lastUpdateMs: 0n }] }, 'write'),
  c(DataServiceService.export, { namespace: 'test', set: 'nothing' }, 'read'),
  c(ClusterServiceService.getClusterInfo, {}, 'info'),
  c(ClusterServiceService.getPartitionMap, { namespace: 'test' }, 'info'),
  c(ClusterServiceService.getPartitionDigests, { namespace: 'test', detailPartitions: [] }, 'info'),
  c(ClusterServiceService.quiesce, { undo: true }, 'sys-admin'),
  c(QueryServiceService.createIndex, { namespace: 'test', set: 's', bin: 'n', name: 'idx_n', type: 'INDEX_TYPE_NUMERIC', collection: 'COLLECTION_TYPE_NONE' }, 'sindex-admin'),
  c(QueryServiceService.dropIndex, { namespace: 'test', name: 'no_such_index' }, 'sindex-admin'),
  c(QueryServiceService.listIndexes, { namespace: '' }, 'info'),
  c(QueryServiceService.getIndexStat, { namespace: 'test', name: 'no_such_index' }, 'info'),
  c(QueryServiceService.query, { namespace: 'test', set: 's' }, 'read'),
  c(QueryServiceService.aggregate, { query: query('s'), function: 'AGGREGATE_FUNCTION_COUNT' }, 'read'),
  c(QueryServiceService.explain, { query: query('s') }, 'read'),
  c(UdfServiceService.registerModule, { fileName: 'probe.js', source: MODULE }, 'udf-admin'),
  c(UdfServiceService.listModules, {}, 'info'),
  c(UdfServiceService.getModule, { name: 'nothing.js' }, 'info'),
  c(UdfServiceService.removeModule, { name: 'nothing.js' }, 'udf-admin'),
  c(UdfServiceService.applyRecordUdf, { key: key(), call: call('nothing', 'f') }, 'udf'),
  c(UdfServiceService.aggregate, { target: { namespace: 'test', set: 's', filterJson: '' }, call: call('nothing', 'agg') }, 'read'),
  c(UdfServiceService.startBackgroundJob, { target: { namespace: 'test', set: 's', filterJson: '' }, call: call('nothing', 'f'), recordsPerSecond: 0 }, 'udf'),
  c(UdfServiceService.listJobs, {}, 'info'),
  c(UdfServiceService.killJob, { id: 999_999n }, 'job-admin'),
  c(AqlServiceService.execute, { text: 'SHOW NAMESPACES', files: [] }, 'info'),
  c(SecurityServiceService.createUser, { user: 'someone', password: 'pw', roles: ['read'] }, 'user-admin'),
  c(SecurityServiceService.dropUser, { user: 'nobody' }, 'user-admin'),
  c(SecurityServiceService.grantRoles, { user: 'nobody', roles: ['read'] }, 'user-admin'),
  c(SecurityServiceService.revokeRoles, { user: 'nobody', roles: ['read'] }, 'user-admin'),
  c(SecurityServiceService.setPassword, { user: 'nobody', password: 'x', oldPassword: '' }, 'user-admin'),
  c(SecurityServiceService.listUsers, { user: '' }, 'user-admin'),
  c(SecurityServiceService.createRole, { role: 'r1', privileges: [{ name: 'read', namespace: '', set: '' }], whitelist: [], readQuota: 0, writeQuota: 0 }, 'user-admin'),
  c(SecurityServiceService.dropRole, { role: 'nothing' }, 'user-admin'),
  c(SecurityServiceService.grantPrivileges, { role: 'nothing', privileges: [{ name: 'read', namespace: '', set: '' }] }, 'user-admin'),
  c(SecurityServiceService.revokePrivileges, { role: 'nothing', privileges: [{ name: 'read', namespace: '', set: '' }] }, 'user-admin'),
  c(SecurityServiceService.setWhitelist, { role: 'nothing', whitelist: [] }, 'user-admin'),
  c(SecurityServiceService.setQuotas, { role: 'nothing', readQuota: 0, writeQuota: 0 }, 'user-admin'),
  c(SecurityServiceService.listRoles, { role: '' }, 'info'),
  // with a grace period, so the sessions of the rest of the matrix go on
  c(SecurityServiceService.rotateSessionSecret, { graceSeconds: 86_400 }, 'user-admin'),
  c(SecurityServiceService.whoAmI, {}, 'info'),
  c(SecurityServiceService.login, { user: 'admin', password: ADMIN_PASSWORD }, 'info'),
];

const REFUSED = new Set([80, 81]);

describe('security/access over gRPC', function () {
  this.timeout(120_000);
  let t: TestNode;
  let raw: Client;
  let dir: string;
  let adminToken: string;
  const clock = new ManualClock(Date.now());

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipstream-security-'));
    writeFileSync(join(dir, 'admin.password'), `${ADMIN_PASSWORD}\n`);
    t = await startTestNode({
      clock,
      config: {
        node: { id: 'A1', host: '127.0.0.1', port: 0, dataDir: dir },
        namespaces: [{ name: 'test', storage: 'storage-memory' }, { name: 'other', storage: 'storage-memory' }],
        security: { adminPasswordFile: 'admin.password', auditFile: 'audit.log', sessionTtl: 3600 },
      },
    });
    raw = rawClient(t.node.port);
    adminToken = await login(raw, 'admin', ADMIN_PASSWORD);
    const admin = bearer(adminToken);
    for (const role of PRIVILEGE_NAMES) {
      const r = await rawCall(raw, SecurityServiceService.createUser, { user: `u-${role}`, password: `pw-${role}`, roles: [role] }, admin);
      assert.equal(r.code, 0, r.message);
    }
  });
  after(async () => {
    raw.close();
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every method of every service has a rule in the guard and a case here', () => {
    const services = [KeyValueServiceService, AdminServiceService, ClusterServiceService, QueryServiceService, UdfServiceService, AqlServiceService, SecurityServiceService, DataServiceService];
    const all = new Set(services.flatMap((svc) => Object.values(svc).map((m: { path: string }) => m.path)));
    for (const p of t.node.server.methodPaths) assert.ok(all.has(p), `registered method ${p} belongs to a listed service`);
    assert.deepEqual([...all].sort(), Object.keys(METHOD_RULES).sort(), 'the guard has exactly one rule per method');
    const streamsIn = new Set(services.flatMap((svc) => Object.values(svc).filter((m: { requestStream: boolean }) => m.requestStream).map((m: { path: string }) => m.path)));
    assert.deepEqual([...all].filter((p) => !streamsIn.has(p)).sort(), CASES.map((x) => x.method.path).sort(), 'this test has exactly one case per method (client streams: below)');
    assert.deepEqual([...streamsIn], ['/slipstream.v1.DataService/Import']);
  });

  it('refuses a call without credentials (80), with a bad token (80) and with wrong passwords (62 / 60)', async () => {
    const get = CASES[1] as Case;
    assert.equal((await rawCall(raw, get.method, get.request)).code, 80);
    assert.equal((await rawCall(raw, get.method, get.request, bearer('v1.bogus.token'))).code, 80);
    const md = new Metadata();
    md.set('user', 'admin');
    md.set('password', 'wrong');
    assert.equal((await rawCall(raw, get.method, get.request, md)).code, 62);
    const nobody = new Metadata();
    nobody.set('authorization', `Basic ${Buffer.from('nobody:x').toString('base64')}`);
    assert.equal((await rawCall(raw, get.method, get.request, nobody)).code, 60);
    assert.equal((await rawCall(raw, SecurityServiceService.login, { user: 'admin', password: 'nope' })).code, 62);
  });

  it('each predefined role may call exactly the methods its privilege covers (every method × every role)', async () => {
    const mismatches: string[] = [];
    for (const role of PRIVILEGE_NAMES) {
      const md = bearer(await login(raw, `u-${role}`, `pw-${role}`));
      for (const x of CASES) {
        if (x.method.path.endsWith('/Login')) continue;
        // methods of a service this node does not run (ClusterService: it has no cluster section): their rule, as written
        if (!t.node.server.methodPaths.includes(x.method.path)) {
          const needs = (METHOD_RULES[x.method.path]?.(x.request) ?? []).map((q) => q.permission);
          if (role === 'read' && needs.join() !== x.needs) mismatches.push(`${x.method.path}: the guard's rule needs ${needs.join()}, expected ${x.needs}`);
          continue;
        }
        const r = await rawCall(raw, x.method, x.request, md);
        const allowed = HOLDERS[x.needs].includes(role);
        if (allowed === REFUSED.has(r.code)) mismatches.push(`${role} ${x.method.path}: expected ${allowed ? 'allowed' : 'refused'}, got ${r.code} ${r.message}`);
        if (!allowed && r.code !== 81) mismatches.push(`${role} ${x.method.path}: refusal should be ROLE_VIOLATION 81, got ${r.code}`);
      }
    }
    assert.deepEqual(mismatches, []);
  });

  it('client-streaming calls (Import) are guarded too: refused without credentials and without write on every namespace', async () => {
    const importCall = (md: Metadata) => new Promise<number>((resolve) => {
      const def = DataServiceService.import;
      const stream = raw.makeClientStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, md, { deadline: Date.now() + 15_000 }, (err) => {
        const c = err?.metadata?.get('slipstream-result-code')[0];
        resolve(err === null ? 0 : typeof c === 'string' ? Number(c) : -1);
      });
      stream.end();
    });
    assert.equal(await importCall(new Metadata()), 80);
    assert.equal(await importCall(bearer(await login(raw, 'u-read', 'pw-read'))), 81);
    assert.notEqual(await importCall(bearer(await login(raw, 'u-read-write', 'pw-read-write'))), 81);
  });

  it('user/password metadata and Basic credentials work like a token', async () => {
    const get = CASES[1] as Case;
    const md = new Metadata();
    md.set('user', 'u-read');
    md.set('password', 'pw-read');
    assert.notEqual((await rawCall(raw, get.method, get.request, md)).code, 80);
    const basic = new Metadata();
    basic.set('authorization', `Basic ${Buffer.from('u-write:pw-write').toString('base64')}`);
    assert.equal((await rawCall(raw, get.method, get.request, basic)).code, 81);
  });

  it('scoped privileges hold to their namespace and set', async () => {
    const admin = bearer(adminToken);
    assert.equal((await rawCall(raw, SecurityServiceService.createRole, { role: 'users-reader', privileges: [{ name: 'read-write', namespace: 'test', set: 'users' }], whitelist: [], readQuota: 0, writeQuota: 0 }, admin)).code, 0);
    assert.equal((await rawCall(raw, SecurityServiceService.createUser, { user: 'scoped', password: 'pw', roles: ['users-reader'] }, admin)).code, 0);
    const md = bearer(await login(raw, 'scoped', 'pw'));
    const put = (ns: string, set: string) => rawCall(raw, KeyValueServiceService.put, { key: { namespace: ns, set, id: { $case: 'stringKey', value: 'x' } }, bins: [{ name: 'b', value: str('v') }] }, md);
    assert.equal((await put('test', 'users')).code, 0);
    assert.equal((await put('test', 'other')).code, 81);
    assert.equal((await put('test', '')).code, 81);
    assert.equal((await put('other', 'users')).code, 81);
    const batch = await rawCall(raw, KeyValueServiceService.batchGet, { keys: [key('users', 'x'), { namespace: 'other', set: 'users', id: { $case: 'stringKey', value: 'x' } }], bins: [], headerOnly: false, filterJson: '' }, md);
    assert.equal(batch.code, 81, 'a batch is refused when one key is out of scope');
    const entry = (k: string) => ({ key: { namespace: 'test', set: 'users', id: { $case: 'stringKey' as const, value: k } }, action: { $case: 'put' as const, value: { bins: [{ name: 'b', value: str('v') }] } } });
    const okBatch = await rawCall(raw, KeyValueServiceService.batchOperate, { entries: [entry('a'), entry('b')] }, md);
    assert.equal(okBatch.code, 0, okBatch.message);
    const mixed = await rawCall(raw, KeyValueServiceService.batchOperate, { entries: [entry('a'), { key: { namespace: 'other', set: 'users', id: { $case: 'stringKey', value: 'x' } }, action: { $case: 'delete', value: {} } }] }, md);
    assert.equal(mixed.code, 81, 'a batch write is refused when one entry is out of scope');
    const scan = (set: string) => rawCall(raw, KeyValueServiceService.scan, { ...KeyValueServiceService.scan.requestDeserialize(Buffer.alloc(0)), namespace: 'test', set }, md);
    assert.equal((await scan('users')).code, 0);
    assert.equal((await scan('')).code, 81, 'a whole-namespace scan needs the namespace');
    const aql = async (text: string) => (await rawCall(raw, AqlServiceService.execute, { text, files: [] }, md)).code;
    assert.equal(await aql("SELECT * FROM test.users WHERE PK = 'x'"), 0);
    assert.equal(await aql("SELECT * FROM test.users WHERE PK = 'x'; SELECT * FROM other.users"), 81, 'every statement of a script is checked before any runs');
    assert.equal(await aql('TRUNCATE test.users'), 81);
  });

  it('a session ends when its token expires, when the password changes and when the user is dropped', async () => {
    const admin = bearer(adminToken);
    assert.equal((await rawCall(raw, SecurityServiceService.createUser, { user: 'temp', password: 'pw1', roles: ['read'] }, admin)).code, 0);
    const get = c(KeyValueServiceService.get, { key: key('s', 'never-written') }, 'read');
    const tok = await login(raw, 'temp', 'pw1');
    assert.equal((await rawCall(raw, get.method, get.request, bearer(tok))).code, 2, 'allowed: the record is just not there');
    clock.advance(3601_000);
    assert.equal((await rawCall(raw, get.method, get.request, bearer(tok))).code, 66, 'expired');
    adminToken = await login(raw, 'admin', ADMIN_PASSWORD);
    const tok2 = await login(raw, 'temp', 'pw1');
    // changing its own password needs the old one
    assert.equal((await rawCall(raw, SecurityServiceService.setPassword, { user: '', password: 'pw2', oldPassword: '' }, bearer(tok2))).code, 62);
    assert.equal((await rawCall(raw, SecurityServiceService.setPassword, { user: '', password: 'pw2', oldPassword: 'pw1' }, bearer(tok2))).code, 0);
    assert.equal((await rawCall(raw, get.method, get.request, bearer(tok2))).code, 66, 'a password change ends old sessions');
    const tok3 = await login(raw, 'temp', 'pw2');
    assert.equal((await rawCall(raw, SecurityServiceService.dropUser, { user: 'temp' }, bearer(adminToken))).code, 0);
    assert.equal((await rawCall(raw, get.method, get.request, bearer(tok3))).code, 66, 'a dropped user loses access at once');
    const md = new Metadata();
    md.set('user', 'temp');
    md.set('password', 'pw2');
    assert.equal((await rawCall(raw, get.method, get.request, md)).code, 60);
  });

  it('rotating the session secret ends every session at once, or after a grace period; new logins go on', async () => {
    adminToken = await login(raw, 'admin', ADMIN_PASSWORD);
    assert.equal((await rawCall(raw, SecurityServiceService.createUser, { user: 'rot', password: 'pw', roles: ['read'] }, bearer(adminToken))).code, 0);
    const get = c(KeyValueServiceService.get, { key: key('s', 'never-written') }, 'read');
    const before = await login(raw, 'rot', 'pw');
    // a reader may not rotate it
    assert.equal((await rawCall(raw, SecurityServiceService.rotateSessionSecret, { graceSeconds: 0 }, bearer(before))).code, 81);
    assert.equal((await rawCall(raw, SecurityServiceService.rotateSessionSecret, { graceSeconds: 90_000 }, bearer(adminToken))).code, 4, 'a grace period over a day is refused');
    // with a grace period: old tokens keep working until it ends
    assert.equal((await rawCall(raw, SecurityServiceService.rotateSessionSecret, { graceSeconds: 60 }, bearer(adminToken))).code, 0);
    assert.equal((await rawCall(raw, get.method, get.request, bearer(before))).code, 2, 'still valid during the grace period');
    const during = await login(raw, 'rot', 'pw');
    assert.notEqual(during, before);
    clock.advance(61_000);
    assert.equal((await rawCall(raw, get.method, get.request, bearer(before))).code, 66, 'the grace period is over');
    assert.equal((await rawCall(raw, get.method, get.request, bearer(during))).code, 2, 'a token signed with the new secret goes on');
    // without: every session ends at once, the rotating admin's too
    adminToken = await login(raw, 'admin', ADMIN_PASSWORD);
    assert.equal((await rawCall(raw, SecurityServiceService.rotateSessionSecret, { graceSeconds: 0 }, bearer(adminToken))).code, 0);
    assert.equal((await rawCall(raw, get.method, get.request, bearer(during))).code, 80, 'a token of a retired secret is not valid');
    assert.equal((await rawCall(raw, get.method, get.request, bearer(adminToken))).code, 80);
    assert.equal((await rawCall(raw, get.method, get.request, bearer(await login(raw, 'rot', 'pw')))).code, 2, 'new logins work');
    adminToken = await login(raw, 'admin', ADMIN_PASSWORD);
    const audit = readFileSync(join(dir, 'audit.log'), 'utf8');
    assert.match(audit, /"event":"session-secret-rotated","user":"admin"/);
    assert.equal((await rawCall(raw, SecurityServiceService.dropUser, { user: 'rot' }, bearer(adminToken))).code, 0);
  });

  it('allow-lists and quotas limit a role', async () => {
    const admin = bearer(adminToken);
    assert.equal((await rawCall(raw, SecurityServiceService.createRole, { role: 'far-away', privileges: [{ name: 'read', namespace: '', set: '' }], whitelist: ['10.0.0.0/8'], readQuota: 0, writeQuota: 0 }, admin)).code, 0);
    assert.equal((await rawCall(raw, SecurityServiceService.createUser, { user: 'remote', password: 'pw', roles: ['far-away'] }, admin)).code, 0);
    assert.equal((await rawCall(raw, SecurityServiceService.login, { user: 'remote', password: 'pw' })).code, 82);
    assert.equal((await rawCall(raw, SecurityServiceService.setWhitelist, { role: 'far-away', whitelist: ['127.0.0.0/8', '::1'] }, admin)).code, 0);
    assert.equal((await rawCall(raw, SecurityServiceService.login, { user: 'remote', password: 'pw' })).code, 0);

    assert.equal((await rawCall(raw, SecurityServiceService.createRole, { role: 'slow-writer', privileges: [{ name: 'write', namespace: 'test', set: '' }], whitelist: [], readQuota: 0, writeQuota: 3 }, admin)).code, 0);
    assert.equal((await rawCall(raw, SecurityServiceService.createUser, { user: 'quota', password: 'pw', roles: ['slow-writer'] }, admin)).code, 0);
    const md = bearer(await login(raw, 'quota', 'pw'));
    const put = CASES[0] as Case;
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await rawCall(raw, put.method, put.request, md)).code);
    assert.deepEqual(codes, [0, 0, 0, 83, 83]);
    clock.advance(1000);
    assert.equal((await rawCall(raw, put.method, put.request, md)).code, 0, 'the next second has a new allowance');
  });

  it('the audit log records logins, failures, violations and changes, never a password', async () => {
    const changed = await rawCall(raw, AdminServiceService.setConfig, { changes: [{ name: 'namespaces.other.defaultTtl', valueJson: '3600' }], clusterWide: false }, bearer(adminToken));
    assert.equal(changed.code, 0, changed.message);
    const text = readFileSync(join(dir, 'audit.log'), 'utf8');
    const events = text.trim().split('\n').map((l) => JSON.parse(l) as { event: string; user?: string; outcome: string; address?: string });
    const kinds = new Set(events.map((e) => e.event));
    for (const k of ['login', 'login-failed', 'permission-denied', 'user-created', 'user-dropped', 'password-set', 'role-created', 'whitelist-set', 'udf-registered', 'truncate', 'config-changed']) {
      assert.ok(kinds.has(k), `audit log has ${k}`);
    }
    assert.ok(events.every((e) => typeof e.outcome === 'string'));
    const denied = events.find((e) => e.event === 'permission-denied');
    assert.equal(denied?.address, '127.0.0.1');
    const config = events.find((e) => e.event === 'config-changed') as { user?: string; detail?: { settings?: string[] } } | undefined;
    assert.equal(config?.user, 'admin');
    assert.deepEqual(config?.detail?.settings, ['namespaces.other.defaultTtl: 0 -> 3600']);
    const udf = events.find((e) => e.event === 'udf-registered');
    assert.ok(udf?.user !== undefined && udf.user.startsWith('u-'), 'the registration names who did it');
    for (const secret of [ADMIN_PASSWORD, 'pw-read', 'pw1', 'pw2']) assert.ok(!text.includes(secret), `audit log must not contain ${secret}`);
  });

  it('a must-change admin (no password configured) may only change its password', async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'slipstream-security-'));
    const saved = process.env['SLIPSTREAM_ADMIN_PASSWORD'];
    delete process.env['SLIPSTREAM_ADMIN_PASSWORD'];
    const t2 = await startTestNode({ config: { node: { id: 'A2', host: '127.0.0.1', port: 0, dataDir: d2 }, security: {} } });
    if (saved !== undefined) process.env['SLIPSTREAM_ADMIN_PASSWORD'] = saved;
    const r2 = rawClient(t2.node.port);
    try {
      const l = await rawCall(r2, SecurityServiceService.login, { user: 'admin', password: 'admin' });
      assert.equal(l.code, 0);
      assert.equal(l.value?.mustChangePassword, true);
      const md = bearer(l.value?.token ?? '');
      assert.equal((await rawCall(r2, KeyValueServiceService.get, CASES[1]?.request as never, md)).code, 63);
      assert.equal((await rawCall(r2, SecurityServiceService.createUser, { user: 'x', password: 'y', roles: [] }, md)).code, 63);
      assert.equal((await rawCall(r2, SecurityServiceService.setPassword, { user: 'admin', password: 'n3w', oldPassword: 'admin' }, md)).code, 0);
      const md2 = bearer(await login(r2, 'admin', 'n3w'));
      assert.equal((await rawCall(r2, KeyValueServiceService.get, CASES[1]?.request as never, md2)).code, 2);
    } finally {
      r2.close();
      await t2.stop();
      rmSync(d2, { recursive: true, force: true });
    }
  });

  it('the TypeScript client logs in with user and password, renews an expired session, and refuses a wrong password at connect', async () => {
    const admin = bearer(adminToken);
    assert.equal((await rawCall(raw, SecurityServiceService.createUser, { user: 'app', password: 'app-pw', roles: ['read-write'] }, admin)).code, 0);
    const client = await SlipstreamClient.connect({ hosts: [`127.0.0.1:${t.node.port}`], user: 'app', password: 'app-pw', timeoutMs: 10_000 });
    try {
      await client.put({ namespace: 'test', set: 'app', key: 'k1' }, { v: 1n });
      assert.equal((await client.get({ namespace: 'test', set: 'app', key: 'k1' })).bins['v'], 1n);
      clock.advance(3601_000); // the server's clock: the session's token has expired
      assert.equal((await client.get({ namespace: 'test', set: 'app', key: 'k1' })).bins['v'], 1n, 'logged in again and retried');
      await assert.rejects(client.truncate('test', 'app'), (e: unknown) => e instanceof DbError && e.resultCode === 81);
    } finally {
      client.close();
    }
    adminToken = await login(raw, 'admin', ADMIN_PASSWORD);
    await assert.rejects(SlipstreamClient.connect({ hosts: [`127.0.0.1:${t.node.port}`], user: 'app', password: 'wrong' }), (e: unknown) => e instanceof DbError && e.resultCode === 62);
    await assert.rejects(SlipstreamClient.connect({ hosts: [`127.0.0.1:${t.node.port}`], user: 'app' }), (e: unknown) => e instanceof DbError && e.code === 'CLIENT_PARAM');
  });

  it('without a security section the node needs no credentials and SecurityService answers 52', async () => {
    const t3 = await startTestNode();
    const r3 = rawClient(t3.node.port);
    try {
      assert.equal((await rawCall(r3, KeyValueServiceService.get, CASES[1]?.request as never)).code, 2);
      assert.equal((await rawCall(r3, SecurityServiceService.login, { user: 'admin', password: 'admin' })).code, 52);
      // a client given credentials still works against a node without security (as Aerospike's clients)
      const c3 = await SlipstreamClient.connect({ hosts: [`127.0.0.1:${t3.node.port}`], user: 'admin', password: 'admin' });
      await c3.put({ namespace: 'test', key: 'x' }, { a: 1n });
      c3.close();
    } finally {
      r3.close();
      await t3.stop();
    }
  });
});

