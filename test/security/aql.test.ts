import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { DbError, SlipstreamClient } from '../../core/client/index.ts';
import { executeAql } from '../../core/client/aql.ts';
import { DEFAULT_SETTINGS } from '../../core/aql/language/settings.ts';
import { PRIVILEGE_NAMES, type PrivilegeName } from '../../core/security/privileges.ts';

const ADMIN = 'admin-secret';

/** Runs AQL on a client: the statement statuses and rows, or the code that refused the whole call. */
async function run(client: SlipstreamClient, text: string): Promise<{ codes: number[]; rows: Map<string, unknown>[] } | { refused: number }> {
  const rows: Map<string, unknown>[] = [];
  try {
    const st = await executeAql(client, { text, settings: { ...DEFAULT_SETTINGS, TIMEOUT: 10_000 } }, {
      begin: () => {}, end: () => {}, status: () => {}, row: (cells) => { rows.push(new Map(cells)); },
    });
    return { codes: st.map((s) => s.code), rows };
  } catch (err) {
    if (err instanceof DbError) return { refused: err.resultCode };
    throw err;
  }
}

/** Runs AQL as a user (logging in first); a refused login is a refusal too. */
async function aql(port: number, user: string, password: string, text: string): Promise<{ codes: number[]; rows: Map<string, unknown>[] } | { refused: number }> {
  let client: SlipstreamClient;
  try {
    client = await SlipstreamClient.connect({ hosts: `127.0.0.1:${port}`, user, password, timeoutMs: 10_000, connectTimeoutMs: 10_000 });
  } catch (err) {
    if (err instanceof DbError) return { refused: err.resultCode };
    throw err;
  }
  try {
    return await run(client, text);
  } finally {
    client.close();
  }
}

/** Which predefined roles may run each statement (from Aerospike's privilege descriptions). */
const READERS: readonly PrivilegeName[] = ['read', 'read-write', 'read-write-udf'];
const WRITERS: readonly PrivilegeName[] = ['write', 'read-write', 'read-write-udf'];
const STATEMENTS: ReadonlyArray<readonly [string, readonly PrivilegeName[]]> = [
  ["SELECT * FROM test.t WHERE PK = 'k'", READERS],
  ['SELECT * FROM test.t', READERS],
  ["EXPLAIN SELECT * FROM test.t WHERE PK = 'k'", READERS],
  ["INSERT INTO test.t (PK, a) VALUES ('k', 1)", WRITERS],
  ["DELETE FROM test.t WHERE PK = 'gone'", WRITERS],
  ["OPERATE INCR(a, 1) ON test.t WHERE PK = 'k'", ['read-write', 'read-write-udf']],
  ["EXECUTE m.f() ON test.t WHERE PK = 'k'", ['read-write-udf']],
  ['TRUNCATE test.none', ['truncate', 'data-admin', 'sys-admin']],
  ['CREATE INDEX i_a ON test.t (a) NUMERIC', ['sindex-admin', 'data-admin', 'sys-admin']],
  ['DROP INDEX test no_index', ['sindex-admin', 'data-admin', 'sys-admin']],
  ['REMOVE MODULE none.js', ['udf-admin', 'data-admin', 'sys-admin']],
  ['KILL JOB 424242', ['data-admin', 'sys-admin']],
  ['SHOW NAMESPACES', PRIVILEGE_NAMES],
  ['STAT SYSTEM', PRIVILEGE_NAMES],
  ['SHOW ROLES', PRIVILEGE_NAMES],
  ['SHOW USERS', ['user-admin']],
  ["CREATE USER someone PASSWORD 'x' ROLES read", ['user-admin']],
  ['DROP USER nobody', ['user-admin']],
  ['GRANT ROLES read TO nobody', ['user-admin']],
  ['CREATE ROLE r1 PRIVILEGES read', ['user-admin']],
  ['DROP ROLE nothing', ['user-admin']],
];

describe('security/AQL statements', function () {
  this.timeout(300_000);
  let t: TestNode;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipstream-security-aql-'));
    writeFileSync(join(dir, 'admin.password'), ADMIN);
    t = await startTestNode({ config: { node: { id: 'A1', host: '127.0.0.1', port: 0, dataDir: dir }, security: { adminPasswordFile: 'admin.password' } } });
  });
  after(async () => {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('manages users and roles as aql spells it, and shows them', async () => {
    const asAdmin = await SlipstreamClient.connect({ hosts: `127.0.0.1:${t.node.port}`, user: 'admin', password: ADMIN, timeoutMs: 10_000, connectTimeoutMs: 10_000 });
    const admin = (text: string) => run(asAdmin, text);
    const made = await admin([
      "CREATE USER ada PASSWORD 'lovelace' ROLES read",
      'CREATE ROLE reporting PRIVILEGES read.test.reports, write.test.drafts WHITELIST 127.0.0.1, 10.0.0.0/8',
      'GRANT ROLES reporting, read-write TO ada',
      'REVOKE ROLE read FROM ada',
      'GRANT PRIVILEGES truncate.test TO reporting',
      'REVOKE PRIVILEGE write.test.drafts FROM reporting',
      "SET WHITELIST '::1', 127.0.0.0/8 FOR reporting",
    ].join(';\n'));
    assert.ok('codes' in made, JSON.stringify(made));
    assert.deepEqual(made.codes, [0, 0, 0, 0, 0, 0, 0]);
    const users = await admin('SHOW USERS');
    assert.ok('rows' in users);
    assert.deepEqual(users.rows.map((r) => [r.get('user'), r.get('roles')]).sort(), [['ada', 'reporting, read-write'], ['admin', 'user-admin, sys-admin, data-admin, read-write-udf']]);
    const role = await admin('SHOW ROLE reporting');
    assert.ok('rows' in role);
    assert.deepEqual(role.rows.map((r) => [r.get('role'), r.get('privileges'), r.get('whitelist')]), [['reporting', 'read.test.reports, truncate.test', '::1, 127.0.0.0/8']]);
    // ada logs in with the password set by CREATE USER and reads within her roles
    const asAda = await aql(t.node.port, 'ada', 'lovelace', "INSERT INTO test.x (PK, a) VALUES ('k', 1); SELECT * FROM test.x WHERE PK = 'k'; SHOW USER ada");
    assert.ok('codes' in asAda, JSON.stringify(asAda));
    assert.deepEqual(asAda.codes, [0, 0, 0]);
    // errors carry Aerospike's codes
    const bad = await admin("CREATE USER ada PASSWORD 'x'; CREATE ROLE r2 PRIVILEGES sys-admin.test; GRANT ROLES nope TO ada; DROP ROLE read; SHOW ROLE nope");
    assert.ok('codes' in bad);
    assert.deepEqual(bad.codes, [61, 72, 70, 70, 70]);
    // a dropped user is gone at once
    assert.deepEqual((await admin('DROP ROLE reporting; DROP USER ada')), { codes: [0, 0], rows: [] });
    assert.deepEqual(await aql(t.node.port, 'ada', 'lovelace', 'SHOW NAMESPACES'), { refused: 60 });
    asAdmin.close();
  });

  it('each predefined role may run exactly the statements its privilege covers (statement kind × role)', async () => {
    const admin = (text: string) => aql(t.node.port, 'admin', ADMIN, text);
    for (const role of PRIVILEGE_NAMES) assert.deepEqual(await admin(`CREATE USER u-${role} PASSWORD 'pw-${role}' ROLES ${role}`), { codes: [0], rows: [] });
    const mismatches: string[] = [];
    for (const role of PRIVILEGE_NAMES) {
      const client = await SlipstreamClient.connect({ hosts: `127.0.0.1:${t.node.port}`, user: `u-${role}`, password: `pw-${role}`, timeoutMs: 10_000, connectTimeoutMs: 10_000 });
      try {
        for (const [text, allowed] of STATEMENTS) {
          const r = await run(client, text);
          const code = 'refused' in r ? r.refused : r.codes[0];
          const refused = code === 81;
          if (allowed.includes(role) === refused) mismatches.push(`${role}: ${text}: got ${code}`);
        }
      } finally {
        client.close();
      }
    }
    assert.deepEqual(mismatches, []);
  });

  it('a session that must change its password can do so with SET PASSWORD', async () => {
    const d2 = mkdtempSync(join(tmpdir(), 'slipstream-security-aql-'));
    const saved = process.env['SLIPSTREAM_ADMIN_PASSWORD'];
    delete process.env['SLIPSTREAM_ADMIN_PASSWORD'];
    const t2 = await startTestNode({ config: { node: { id: 'A2', host: '127.0.0.1', port: 0, dataDir: d2 }, security: {} } });
    if (saved !== undefined) process.env['SLIPSTREAM_ADMIN_PASSWORD'] = saved;
    try {
      assert.deepEqual(await aql(t2.node.port, 'admin', 'admin', 'SHOW NAMESPACES'), { refused: 63 });
      assert.deepEqual(await aql(t2.node.port, 'admin', 'admin', "SET PASSWORD 's3cret'"), { codes: [0], rows: [] });
      const after = await aql(t2.node.port, 'admin', 's3cret', 'SHOW NAMESPACES');
      assert.ok('codes' in after && after.codes[0] === 0);
    } finally {
      await t2.stop();
      rmSync(d2, { recursive: true, force: true });
    }
  });
});
