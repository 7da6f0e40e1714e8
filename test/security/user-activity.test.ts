/**
 * Per-user activity on a node: the connections that carried a user's calls (both protocols),
 * the records it read and wrote in the last second, and the per-user connection limit
 * (`security.maxConnectionsPerUser`). Seen through gRPC ListUsers, AQL SHOW USERS and the
 * official client's queryUser (QUERY_USERS's READ_INFO, WRITE_INFO and CONNECTIONS).
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as GrpcClient, credentials, type Client } from '@grpc/grpc-js';
import { connect as tcpConnect, type Socket } from 'node:net';
import { AdminCommand, AdminField, adminReply, textField } from '../../core/server/aerospike/admin-codec.ts';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { until } from '../helpers/until.ts';
import { KeyValueServiceService } from '../../core/wire/generated/slipstream/v1/kv.ts';
import { SecurityServiceService, type SecurityUser } from '../../core/wire/generated/slipstream/v1/security.ts';
import { SlipstreamClient } from '../../core/client/index.ts';
import { executeAql } from '../../core/client/aql.ts';
import { DEFAULT_SETTINGS } from '../../core/aql/language/settings.ts';
import { UserActivity } from '../../core/security/user-activity.ts';
import { bearer, login, rawCall } from './helpers.ts';

const ADMIN_PASSWORD = 'admin-activity-pw';
const key = (k: string) => ({ namespace: 'test', set: 'act', id: { $case: 'stringKey' as const, value: k } });
const str = (v: string) => ({ kind: { $case: 'string' as const, value: v } });

describe('security/per-user activity and connection limit', function () {
  this.timeout(120_000);
  let t: TestNode;
  let dir: string;
  const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  const clients: Client[] = [];
  /** A client with its own connection (grpc-js otherwise shares one between clients of a target). */
  const open = (): Client => {
    const c = new GrpcClient(`127.0.0.1:${t.node.port}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    clients.push(c);
    return c;
  };
  let adminClient: Client;
  let adminToken: string;

  const userOf = async (name: string): Promise<SecurityUser> => {
    const r = await rawCall(adminClient, SecurityServiceService.listUsers, { user: name }, bearer(adminToken));
    assert.equal(r.code, 0, r.message);
    const u = r.value?.users[0];
    assert.ok(u !== undefined);
    return u;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipstream-activity-'));
    writeFileSync(join(dir, 'admin.password'), ADMIN_PASSWORD);
    t = await startTestNode({
      clock,
      config: {
        node: { id: 'A1', host: '127.0.0.1', port: 0, dataDir: dir },
        namespaces: [{ name: 'test', storage: 'storage-memory' }],
        security: { adminPasswordFile: 'admin.password', maxConnectionsPerUser: 4 },
      },
    });
    adminClient = open();
    adminToken = await login(adminClient, 'admin', ADMIN_PASSWORD);
    await rawCall(adminClient, SecurityServiceService.createRole, { role: 'limited', privileges: [{ name: 'read-write', namespace: '', set: '' }], whitelist: [], readQuota: 50, writeQuota: 0 }, bearer(adminToken));
    for (const [user, roles] of [['u', ['read-write']], ['q', ['limited']], ['w', ['read-write']], ['p', ['read']]] as const) {
      const r = await rawCall(adminClient, SecurityServiceService.createUser, { user, password: `${user}-pw`, roles: [...roles] }, bearer(adminToken));
      assert.equal(r.code, 0, r.message);
    }
  });

  after(async () => {
    for (const c of clients) c.close();
    await t?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts the gRPC connections that carried a user\'s calls and refuses one past the per-user limit', async () => {
    assert.equal((await userOf('u')).connections, 0);
    const [a, b, c, d, e] = [open(), open(), open(), open(), open()] as const;
    const get = (on: Client, m = md) => rawCall(on, KeyValueServiceService.get, { key: key('a'), bins: [], headerOnly: false, filterJson: '' }, m);
    const md = bearer(await login(a, 'u', 'u-pw'));
    assert.equal((await rawCall(a, KeyValueServiceService.put, { key: key('a'), bins: [{ name: 'b', value: str('x') }] }, md)).code, 0);
    assert.equal((await userOf('u')).connections, 1, 'one connection');
    assert.equal((await get(a)).code, 0);
    assert.equal((await userOf('u')).connections, 1, 'more calls on the same connection count once');
    for (const on of [b, c, d]) assert.equal((await get(on)).code, 0);
    assert.equal((await userOf('u')).connections, 4);

    const refused = await get(e);
    assert.equal(refused.code, 83, `a fifth connection of the user is refused with QUOTA_EXCEEDED (got ${refused.code} ${refused.message})`);
    assert.match(refused.message, /4 connections open on this node, the most one user may open \(4\)/);
    // another user is not affected by u's connections
    const w = bearer(await login(e, 'w', 'w-pw'));
    assert.equal((await get(e, w)).code, 0);
    assert.equal((await userOf('w')).connections, 1);

    // a closed connection stops counting, and the user may connect again
    a.close();
    await until('the closed connection no longer counts', async () => (await userOf('u')).connections === 3, 10_000);
    assert.equal((await get(e)).code, 0);
    assert.equal((await userOf('u')).connections, 4);
    for (const on of [b, c, d, e]) on.close();
    await until('every connection closed', async () => (await userOf('u')).connections === 0 && (await userOf('w')).connections === 0, 10_000);
  });

  it('reports the records a user read and wrote in the last whole second, with the quotas its roles give', async () => {
    const q = open();
    const md = bearer(await login(q, 'q', 'q-pw'));
    clock.advance(1000 - (clock.now() % 1000)); // the start of a second
    for (let i = 0; i < 7; i++) assert.equal((await rawCall(q, KeyValueServiceService.put, { key: key(`q${i}`), bins: [{ name: 'b', value: str('v') }] }, md)).code, 0);
    const keys = [0, 1, 2, 3].map((i) => key(`q${i}`));
    assert.equal((await rawCall(q, KeyValueServiceService.batchGet, { keys, bins: [], headerOnly: false, filterJson: '' }, md)).code, 0);
    const during = await userOf('q');
    assert.equal(during.writesPerSecond, 0, 'the second being counted is not reported yet');
    clock.advance(1000);
    const after = await userOf('q');
    assert.equal(after.writesPerSecond, 7);
    assert.equal(after.readsPerSecond, 4, 'a batch counts each key');
    assert.equal(after.readQuota, 50, "the role's read quota");
    assert.equal(after.writeQuota, 0, 'no write quota');
    assert.equal(after.connections, 1);
    clock.advance(2000);
    const idle = await userOf('q');
    assert.equal(idle.writesPerSecond + idle.readsPerSecond, 0, 'an idle second reports 0');

    // AQL SHOW USERS shows the same figures
    clock.advance(1000 - (clock.now() % 1000));
    assert.equal((await rawCall(q, KeyValueServiceService.put, { key: key('q9'), bins: [{ name: 'b', value: str('v') }] }, md)).code, 0);
    clock.advance(1000);
    const shell = await SlipstreamClient.connect({ hosts: `127.0.0.1:${t.node.port}`, user: 'admin', password: ADMIN_PASSWORD, timeoutMs: 10_000 });
    try {
      const rows: Map<string, unknown>[] = [];
      const st = await executeAql(shell, { text: 'SHOW USER q', settings: { ...DEFAULT_SETTINGS, TIMEOUT: 10_000 } }, {
        begin: () => {}, end: () => {}, status: () => {}, row: (cells) => { rows.push(new Map(cells)); },
      });
      assert.deepEqual(st.map((x) => x.code), [0]);
      assert.deepEqual([...(rows[0]?.entries() ?? [])], [
        ['user', 'q'], ['roles', 'limited'], ['conns-in-use', 1], ['read-quota', 50], ['read-single-record-tps', 0],
        ['write-quota', 0], ['write-single-record-tps', 1],
      ]);
    } finally {
      shell.close();
    }
    q.close();
  });

  it('counts Aerospike-protocol connections from their LOGIN and refuses a LOGIN past the per-user limit', async () => {
    const sockets: Socket[] = [];
    try {
      const answers: number[] = [];
      for (let i = 0; i < 5; i++) {
        const s = await connected(t.node.port);
        sockets.push(s);
        answers.push(await resultOf(s, adminReply(AdminCommand.LOGIN, 0, [textField(AdminField.USER, 'p'), textField(AdminField.CLEAR_PASSWORD, 'p-pw')])));
      }
      assert.deepEqual(answers, [0, 0, 0, 0, 83], 'four logins, the fifth connection is refused with QUOTA_EXCEEDED');
      assert.equal((await userOf('p')).connections, 4);
      // the refused connection is not authenticated: a QUERY_USERS on it answers NOT_AUTHENTICATED
      assert.equal(await resultOf(sockets[4] as Socket, adminReply(AdminCommand.QUERY_USERS, 0, [])), 80);
      (sockets[0] as Socket).destroy();
      await until('the closed connection no longer counts', async () => (await userOf('p')).connections === 3, 10_000);
      assert.equal(await resultOf(sockets[4] as Socket, adminReply(AdminCommand.LOGIN, 0, [textField(AdminField.USER, 'p'), textField(AdminField.CLEAR_PASSWORD, 'p-pw')])), 0, 'room again');
      assert.equal((await userOf('p')).connections, 4);
    } finally {
      for (const s of sockets) s.destroy();
    }
    await until('every connection closed', async () => (await userOf('p')).connections === 0, 10_000);
  });
});

/** An open TCP connection to the node. */
function connected(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends one admin frame on an open connection; the result byte of the first answer record. */
function resultOf(s: Socket, frame: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      got = Buffer.concat([got, d]);
      if (got.length >= 8 + 2) {
        s.off('data', onData);
        resolve(got[8 + 1] as number);
      }
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(frame);
  });
}

describe('security/UserActivity', () => {
  it('counts a connection once per user, ends it on detach, and refuses past the limit', () => {
    const a = new UserActivity(() => 0, 1);
    assert.equal(a.attach('x', 'c1'), true);
    assert.equal(a.attach('x', 'c1'), false, 'the same connection again');
    assert.throws(() => a.attach('x', 'c2'), /1 connections open on this node/);
    assert.equal(a.attach('y', 'c1'), false, 'another user on a known connection');
    assert.equal(a.usage('y').connections, 1);
    a.detach('c1');
    assert.equal(a.usage('x').connections, 0);
    assert.equal(a.usage('y').connections, 0);
    assert.equal(a.attach('x', 'c2'), true);
  });

  it('refuses records past a quota within one second and starts again the next', () => {
    let now = 5000;
    const a = new UserActivity(() => now);
    a.count('x', 'write', 3, 4);
    assert.throws(() => a.count('x', 'write', 2, 4), (e: Error & { code?: string }) => e.code === 'QUOTA_EXCEEDED');
    now = 6000;
    a.count('x', 'write', 4, 4);
    assert.equal(a.usage('x').writesPerSecond, 5, 'the previous second, refused records included');
    now = 8000;
    assert.equal(a.usage('x').writesPerSecond, 0);
  });
});
