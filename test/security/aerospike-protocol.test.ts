/**
 * Security over the Aerospike protocol, with the official `aerospike` npm client against a real
 * node process with a `security` section: the client logs in with its user and password (LOGIN
 * with the bcrypt credential, AUTHENTICATE on every other socket), and each command is checked
 * against the user's privileges; a client without credentials gets nothing.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tcpConnect } from 'node:net';
import Aerospike from 'aerospike';
import { startNodeProcess, type NodeProcess } from '../helpers/process-node.ts';
import { SlipstreamClient } from '../../core/client/index.ts';
import { SecurityServiceService } from '../../core/wire/generated/slipstream/v1/security.ts';

type Client = Awaited<ReturnType<typeof Aerospike.connect>>;

async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    return (err as { code: number }).code;
  }
  assert.fail('the call succeeded');
}

/** One raw proto message (1 info, 2 admin) on a fresh, unauthenticated connection; the answer's body. */
function rawRequest(port: number, type: 1n | 2n, body: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    const head = Buffer.alloc(8);
    head.writeBigUInt64BE((2n << 56n) | (type << 48n) | BigInt(body.length));
    let got = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 8 && got.length >= 8 + Number(got.readBigUInt64BE(0) & 0xffff_ffff_ffffn)) { s.destroy(); resolve(got.subarray(8)); }
    });
    s.on('close', () => resolve(got.subarray(8)));
    s.on('error', reject);
    s.write(Buffer.concat([head, body]));
  });
}

const rawInfo = async (port: number, text: string): Promise<string> => (await rawRequest(port, 1n, Buffer.from(text, 'utf8'))).toString('utf8');
const rawAdmin = (port: number, body: Buffer): Promise<Buffer> => rawRequest(port, 2n, body);

describe('security/Aerospike protocol with the official client', function () {
  this.timeout(120_000);
  let node: NodeProcess;
  let dir: string;
  const timeout = { totalTimeout: 20_000, socketTimeout: 20_000 };
  const policies = { read: timeout, write: timeout, remove: timeout, batch: timeout, scan: timeout, query: timeout, info: { timeout: 20_000 } };
  const clients: Client[] = [];
  const connect = async (user?: string, password?: string): Promise<Client> => {
    const c = await Aerospike.connect({ hosts: [{ addr: '127.0.0.1', port: node.port }], log: { level: Aerospike.log.OFF }, policies, ...(user === undefined ? {} : { user, password }) });
    clients.push(c);
    return c;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipstream-security-as-'));
    writeFileSync(join(dir, 'admin.password'), 'admin-pw');
    const config = join(dir, 'node.json');
    writeFileSync(config, JSON.stringify({
      node: { id: 'BB9020011AC4203', host: '127.0.0.1', port: 0, dataDir: dir },
      logLevel: 'warn',
      namespaces: [{ name: 'test', storage: 'storage-memory' }],
      security: { adminPasswordFile: 'admin.password' },
    }));
    node = await startNodeProcess(['--config', config], { timeoutMs: 60_000 });
    const admin = await SlipstreamClient.connect({ hosts: `127.0.0.1:${node.port}`, user: 'admin', password: 'admin-pw', timeoutMs: 10_000, connectTimeoutMs: 10_000 });
    try {
      await admin.unary(SecurityServiceService.createUser, { user: 'reader', password: 'reader-pw', roles: ['read'] });
      await admin.unary(SecurityServiceService.createUser, { user: 'writer', password: 'writer-pw', roles: ['read-write'] });
    } finally {
      admin.close();
    }
  });

  after(async () => {
    for (const c of clients) await c.close();
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs in with user and password and serves the user within its privileges', async () => {
    const writer = await connect('writer', 'writer-pw');
    const k = new Aerospike.Key('test', 'demo', 'k1');
    await writer.put(k, { i: 1 });
    assert.deepEqual((await writer.get(k)).bins, { i: 1 });
    const reader = await connect('reader', 'reader-pw');
    assert.deepEqual((await reader.get(k)).bins, { i: 1 });
    assert.equal(await codeOf(reader.put(k, { i: 2 })), 81, 'a reader may not write (ROLE_VIOLATION)');
    assert.equal(await codeOf(reader.remove(k)), 81);
    const batch = await reader.batchRead([{ key: k, readAllBins: true }]);
    assert.equal(batch[0]?.status, 0);
    assert.match(await reader.infoAny('namespaces'), /test/);
    assert.equal(await codeOf(reader.truncate('test', 'demo', 0)), 81, 'truncate needs its privilege');
  });

  it('refuses a wrong password and answers an unauthenticated connection with 80', async () => {
    const code = await codeOf(connect('writer', 'wrong'));
    assert.ok(code === 62 || code === -1 || code === -10, `a wrong password fails to connect (got ${code})`);
    assert.equal(await rawInfo(node.port, 'namespaces\n'), 'ERROR:80:not authenticated\n');
  });

  it('manages users and roles with the official client\'s admin calls, checked like every other path', async () => {
    const admin = await connect('admin', 'admin-pw');
    const P = Aerospike.privilegeCode;
    await admin.createUser('u1', 'pw1', ['read']);
    const u1 = await admin.queryUser('u1', null);
    assert.equal(u1.name, 'u1');
    assert.deepEqual(u1.roles, ['read']);
    const names = (await admin.queryUsers(null)).map((u: { name: string }) => u.name).sort();
    assert.deepEqual(names, ['admin', 'reader', 'u1', 'writer']);

    await admin.createRole('r1', [new Aerospike.admin.Privilege(P.READ_WRITE, { namespace: 'test', set: 's1' }), new Aerospike.admin.Privilege(P.UDF_ADMIN)], null, ['127.0.0.1', '10.0.0.0/8'], 10, 20);
    const r1 = await admin.queryRole('r1', null);
    assert.equal(r1.name, 'r1');
    assert.deepEqual(r1.whitelist, ['127.0.0.1', '10.0.0.0/8']);
    assert.equal(r1.readQuota, 10);
    assert.equal(r1.writeQuota, 20);
    const privs = r1.privileges.map((p: { code: number; namespace: string; set: string }) => [p.code, p.namespace, p.set]).sort();
    assert.deepEqual(privs, [[P.UDF_ADMIN, '', ''], [P.READ_WRITE, 'test', 's1']].sort());
    const roleNames = (await admin.queryRoles(null)).map((r: { name: string }) => r.name);
    for (const r of ['read', 'read-write', 'user-admin', 'sys-admin', 'r1']) assert.ok(roleNames.includes(r), `queryRoles lists ${r}`);

    // the role's scoped privilege is what the user gets
    await admin.grantRoles('u1', ['r1']);
    assert.deepEqual((await admin.queryUser('u1', null)).roles.slice().sort(), ['r1', 'read']);
    const c1 = await connect('u1', 'pw1');
    await c1.put(new Aerospike.Key('test', 's1', 'a'), { v: 1 });
    assert.equal(await codeOf(c1.put(new Aerospike.Key('test', 's2', 'a'), { v: 1 })), 81, 'the scope stops at the set');
    await admin.revokePrivileges('r1', [new Aerospike.admin.Privilege(P.READ_WRITE, { namespace: 'test', set: 's1' })]);
    assert.equal(await codeOf(c1.put(new Aerospike.Key('test', 's1', 'b'), { v: 1 })), 81, 'a revoked privilege ends at once');
    await admin.grantPrivileges('r1', [new Aerospike.admin.Privilege(P.WRITE, { namespace: 'test' })]);
    await c1.put(new Aerospike.Key('test', 's2', 'b'), { v: 1 });
    await admin.setQuotas('r1', 0, 0);
    await admin.setWhitelist('r1', []);
    const r1b = await admin.queryRole('r1', null);
    assert.equal(r1b.readQuota, 0);
    assert.deepEqual(r1b.whitelist, []);

    // a user without user-admin may not manage users
    const reader = await connect('reader', 'reader-pw');
    assert.equal(await codeOf(reader.createUser('u2', 'pw', ['read'])), 81);
    assert.equal(await codeOf(reader.dropUser('u1')), 81);
    assert.equal(await codeOf(admin.createRole('bad', [new Aerospike.admin.Privilege(P.READ)], null, ['not-an-address'])), 73, 'a bad allow-list answers INVALID_WHITELIST');
    assert.equal(await codeOf(admin.grantRoles('u1', ['no-such-role'])), 70, 'INVALID_ROLE');
    assert.equal(await codeOf(admin.createUser('u1', 'again', ['read'])), 61, 'USER_ALREADY_EXISTS');

    // a new password from an admin: the old one stops working, the new one works
    await admin.changePassword('u1', 'pw2');
    assert.notEqual(await codeOf(connect('u1', 'pw1')), 0);
    const c2 = await connect('u1', 'pw2');
    await c2.put(new Aerospike.Key('test', 's2', 'c'), { v: 1 });
    // a user changes its own password (CHANGE_PASSWORD proves the old credential)
    await c2.changePassword('u1', 'pw3');
    assert.notEqual(await codeOf(connect('u1', 'pw2')), 0);
    const c3 = await connect('u1', 'pw3');
    await c3.put(new Aerospike.Key('test', 's2', 'c'), { v: 2 });

    await admin.revokeRoles('u1', ['r1']);
    await admin.dropRole('r1');
    assert.equal(await codeOf(admin.queryRole('r1', null)), 70);
    await admin.dropUser('u1');
    assert.equal(await codeOf(admin.queryUser('u1', null)), 60, 'a dropped user is gone (INVALID_USER)');
    const lost = await codeOf(c3.put(new Aerospike.Key('test', 's2', 'd'), { v: 1 }));
    assert.equal(lost, 66, `its open connections lose access: EXPIRED_SESSION (got ${lost})`);
  });

  it("gives the official client each user's figures (READ_INFO, WRITE_INFO, CONNECTIONS of QUERY_USERS)", async () => {
    const admin = await connect('admin', 'admin-pw');
    const writer = await connect('writer', 'writer-pw');
    // writes until a whole second with some has passed (on a loaded machine one put may take long)
    const start = Date.now();
    let n = 0;
    let info: { readInfo: number[]; writeInfo: number[]; connsInUse: number } | undefined;
    while (Date.now() - start < 60_000) {
      await writer.put(new Aerospike.Key('test', 'figures', `f${n++ % 50}`), { n });
      if (Date.now() - start < 1100) continue;
      info = await admin.queryUser('writer', null) as { readInfo: number[]; writeInfo: number[]; connsInUse: number };
      if ((info.writeInfo[1] ?? 0) > 0) break;
    }
    assert.ok(info !== undefined);
    assert.equal(info.writeInfo.length, 4, 'quota, single-record TPS, scan/query RPS, limitless scans');
    assert.equal(info.readInfo.length, 4);
    assert.equal(info.writeInfo[0], 0, 'no write quota');
    assert.ok((info.writeInfo[1] ?? 0) > 0 && (info.writeInfo[1] ?? 0) <= n, `records written in the last second (${info.writeInfo[1]} of ${n})`);
    assert.ok(info.connsInUse >= 1, `the writer's authenticated connections (${info.connsInUse})`);
  });

  it('answers a malformed admin message with a result code and keeps serving', async () => {
    const bodies = [
      Buffer.alloc(3), // header cut off
      (() => { const b = Buffer.alloc(16); b[2] = 1; b[3] = 2; return b; })(), // two fields announced, none sent
      (() => { const b = Buffer.alloc(16 + 5 + 2); b[2] = 5; b[3] = 1; b.writeUInt32BE(3, 16); b[20] = 10; b[21] = 4; b[22] = 9; return b; })(), // roles count 4, cut off
    ];
    for (const body of bodies) {
      const answer = await rawAdmin(node.port, body);
      assert.equal(answer.length >= 16, true, 'an admin header comes back');
      assert.notEqual(answer[1], 0, 'with a non-zero result');
    }
    const writer = await connect('writer', 'writer-pw');
    await writer.put(new Aerospike.Key('test', 'demo', 'after'), { ok: 1 });
  });
});
