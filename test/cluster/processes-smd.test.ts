/**
 * System metadata on every node, with real processes on 127.0.0.1 (security on, as a
 * deployment would run it): a UDF module registered through one node is callable through any
 * other (record UDFs proxied to masters included) and removed everywhere; an index created
 * through one node is built on every node for the records it holds and dropped everywhere; a
 * node that joins later receives modules and index definitions; a user dropped through one node
 * loses access at once on every node. One cluster serves the tests in order (suite time).
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { KeyValueServiceClient } from '../../core/wire/generated/slipstream/v1/kv.ts';
import { SecurityServiceClient } from '../../core/wire/generated/slipstream/v1/security.ts';
import { RESULT_CODE_HEADER } from '../../core/wire/status.ts';
import { ProcessCluster } from '../helpers/process-cluster.ts';
import { until } from '../helpers/until.ts';
import { SlipstreamClient } from '../../core/client/index.ts';
import { executeAql, type AqlStatementStatus } from '../../core/client/aql.ts';
import { DEFAULT_SETTINGS } from '../../core/aql/language/settings.ts';

const HB = { intervalMs: 100, timeout: 30 }; // node timeout 3 s: these tests kill no node, and the machine may be loaded
const ADMIN = { user: 'admin', password: 'secret-pw' };

interface AqlOutcome { readonly statuses: AqlStatementStatus[]; readonly rows: Map<string, unknown>[] }

/** One logged-in client per (node, user), reused: a login costs a password hash. */
const clients = new Map<string, SlipstreamClient>();

async function clientOf(port: number, who: { user: string; password: string } = ADMIN): Promise<SlipstreamClient> {
  const id = `${port}/${who.user}/${who.password}`;
  let c = clients.get(id);
  // routing 'seed': "through node X" means the request enters the cluster at X
  if (c === undefined) clients.set(id, c = await SlipstreamClient.connect({ hosts: `127.0.0.1:${port}`, timeoutMs: 15_000, routing: 'seed', ...who }));
  return c;
}

function closeClients(): void {
  for (const c of clients.values()) c.close();
  clients.clear();
}



/** Runs AQL text on a node as `who` (the admin by default); statuses and rows. */
async function aql(port: number, text: string, options: { files?: Map<string, Uint8Array>; who?: { user: string; password: string } } = {}): Promise<AqlOutcome> {
  const client = await clientOf(port, options.who);
  const rows: Map<string, unknown>[] = [];
  const statuses = await executeAql(client, { text, settings: { ...DEFAULT_SETTINGS, TIMEOUT: 10_000 }, ...(options.files === undefined ? {} : { files: options.files }) }, {
    begin: () => {}, end: () => {}, status: () => {},
    row: (cells) => { rows.push(new Map(cells)); },
  });
  return { statuses, rows };
}

async function aqlOk(port: number, text: string, files?: Map<string, Uint8Array>): Promise<Map<string, unknown>[]> {
  const r = await aql(port, text, files === undefined ? {} : { files });
  for (const s of r.statuses) assert.equal(s.code, 0, `${text}: ${JSON.stringify(s)}`);
  return r.rows;
}

const MODULE = `export function bump(rec, by) {
  rec.n = (rec.n ?? 0) + by;
  if (aerospike.exists(rec)) aerospike.update(rec); else aerospike.create(rec);
  return rec.n;
}
`;

describe('cluster/system metadata on every node (real processes)', function () {
  this.timeout(240_000);
  const cluster = new ProcessCluster({
    name: 'smd', clusterName: 'smd', heartbeat: HB, metrics: true, login: ADMIN,
    // a persistent namespace makes the node keep its system metadata (users included) on disk
    namespaces: [{ name: 'test', storage: 'storage-memory', replicationFactor: 2 }, { name: 'kept', storage: 'storage-lmdb', storageOptions: { dataDir: 'kept' }, replicationFactor: 2 }],
    sections: (dir) => {
      writeFileSync(join(dir, 'cluster.secret'), 'the cluster secret shared by these nodes\n');
      writeFileSync(join(dir, 'admin.password'), ADMIN.password);
      return { security: { clusterSecretFile: join(dir, 'cluster.secret'), adminPasswordFile: join(dir, 'admin.password') } };
    },
    startTimeoutMs: 60_000,
  });
  const node = (id: string) => cluster.node(id);
  const formed = (ids: string[]): Promise<unknown> => cluster.formed(ids, { ms: 90_000 });

  after(async () => {
    closeClients();
    await cluster.close();
  });

  it('a UDF module registered through A is callable through C (proxied to every master), listed everywhere, and removed through B everywhere', async () => {
    const [a, b, c] = await cluster.startCluster(['C3', 'C2', 'C1']);

    await aqlOk(a.port, "REGISTER MODULE 'counter.js'", new Map([['counter.js', new TextEncoder().encode(MODULE)]]));
    // through C, on 30 keys whose masters are spread over the three nodes
    for (let i = 0; i < 30; i++) await aqlOk(c.port, `EXECUTE counter.bump(${i}) ON test.udf WHERE PK = 'k${i}'`);
    const client = await clientOf(b.port);
    for (let i = 0; i < 30; i++) assert.equal((await client.get({ namespace: 'test', set: 'udf', key: `k${i}` })).bins['n'], BigInt(i), `key k${i}`);
    for (const p of [a, b, c]) {
      const mods = await aqlOk(p.port, 'SHOW MODULES');
      assert.deepEqual(mods.map((r) => r.get('filename')), ['counter.js'], `SHOW MODULES through port ${p.port}`);
    }
    await aqlOk(b.port, 'REMOVE MODULE counter.js');
    for (const p of [a, c]) {
      assert.deepEqual(await aqlOk(p.port, 'SHOW MODULES'), [], `removed through B, gone on port ${p.port}`);
      const r = await aql(p.port, "EXECUTE counter.bump(1) ON test.udf WHERE PK = 'k1'");
      assert.equal(r.statuses[0]?.code, 100, `a removed module is not run (port ${p.port}): ${JSON.stringify(r.statuses)}`);
    }
    // registered again for the late joiner below
    await aqlOk(c.port, "REGISTER MODULE 'counter.js'", new Map([['counter.js', new TextEncoder().encode(MODULE)]]));
  });

  it('CREATE INDEX through B builds the index on every node for the records it holds; queries through C answer; DROP INDEX through A drops it everywhere', async () => {
    const [a, b, c] = [node('C3'), node('C2'), node('C1')];
    const writer = await clientOf(a.port);
    for (let i = 0; i < 90; i++) await writer.put({ namespace: 'test', set: 'idx', key: `r${i}` }, { i: BigInt(i), g: BigInt(i % 3) });
    await aqlOk(b.port, 'CREATE INDEX by_i ON test.idx (i) NUMERIC');
    // every node has it, built from the copies it holds: RF 2 gives two entries per record in all
    const entries = await until('the index is ready on every node', async () => {
      const per = await Promise.all([a, b, c].map(async (p) => {
        const rows = await aqlOk(p.port, 'STAT INDEX test by_i');
        const get = (name: string): unknown => rows.find((r) => r.get('name') === name)?.get('value');
        return get('state') === 'RW' ? Number(get('entries')) : undefined;
      }));
      return per.every((n) => n !== undefined) && per.reduce((x, y) => (x ?? 0) + (y ?? 0), 0) === 180 ? per : undefined;
    }, 30_000);
    assert.ok(entries.every((n) => (n ?? 0) > 0), `entries per node ${entries.join('/')}`);
    const rows = await aqlOk(c.port, 'SELECT i FROM test.idx WHERE i BETWEEN 10 AND 29');
    assert.deepEqual(rows.map((r) => r.get('i')).sort((x, y) => Number(x) - Number(y)), Array.from({ length: 20 }, (_, k) => BigInt(k + 10)));
    await aqlOk(a.port, 'DROP INDEX test by_i');
    for (const p of [b, c]) assert.deepEqual(await aqlOk(p.port, 'SHOW INDEXES test'), [], `dropped through A, gone on port ${p.port}`);
    await aqlOk(c.port, 'CREATE INDEX by_g ON test.idx (g) NUMERIC'); // for the late joiner
  });

  it('a user created through A works on every node; dropped through B, it loses access at once on every node; its password is in no log or file', async () => {
    const nodes = [node('C3'), node('C2'), node('C1')];
    const carol = { user: 'carol', password: 'carol-only-knows-this-4711' };
    const md = (m: Record<string, string>): Metadata => {
      const x = new Metadata();
      for (const [k, v] of Object.entries(m)) x.set(k, v);
      return x;
    };
    const call = <T>(port: number, fn: (c: KeyValueServiceClient, done: (err: ServiceError | null, v?: T) => void) => void): Promise<number> =>
      new Promise((resolve) => {
        const c = new KeyValueServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
        fn(c, (err) => {
          c.close();
          const code = err?.metadata?.get(RESULT_CODE_HEADER)[0];
          resolve(err === null ? 0 : typeof code === 'string' ? Number(code) : -1);
        });
      });
    const key = { namespace: 'test', set: 'carol', id: { $case: 'stringKey' as const, value: 'k' } };
    const get = (port: number, m: Metadata): Promise<number> => call(port, (c, done) => c.get({ key, bins: [], headerOnly: false, filterJson: '' } as never, m, done));
    const login = (port: number): Promise<{ code: number; token: string }> => new Promise((resolve) => {
      const c = new SecurityServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
      c.login({ user: carol.user, password: carol.password }, (err, res) => {
        c.close();
        const code = err?.metadata?.get(RESULT_CODE_HEADER)[0];
        resolve({ code: err === null ? 0 : typeof code === 'string' ? Number(code) : -1, token: res?.token ?? '' });
      });
    });

    await aqlOk(nodes[0]?.port as number, `CREATE USER carol PASSWORD '${carol.password}' ROLES read-write`);
    const writer = await clientOf(nodes[0]?.port as number);
    await writer.put({ namespace: 'test', set: 'carol', key: 'k' }, { v: 1n });
    const tokens: string[] = [];
    for (const p of nodes) {
      const l = await login(p.port);
      assert.equal(l.code, 0, `carol logs in through port ${p.port} at once`);
      tokens.push(l.token);
      assert.equal(await get(p.port, md(carol)), 0, `carol's password works on port ${p.port}`);
    }
    // a token from A is valid on B and C (one session secret in the cluster)
    for (const p of nodes) assert.equal(await get(p.port, md({ authorization: `Bearer ${tokens[0]}` })), 0);

    await aqlOk(nodes[1]?.port as number, 'DROP USER carol');
    // at once: the drop answered after every member took it
    for (const p of nodes) {
      for (const token of tokens) {
        const code = await get(p.port, md({ authorization: `Bearer ${token}` }));
        assert.ok(code === 66 || code === 80, `port ${p.port}: a dropped user's session is refused (got ${code})`);
      }
      const byPassword = await get(p.port, md(carol));
      assert.ok(byPassword === 60 || byPassword === 80, `port ${p.port}: its password is refused (got ${byPassword})`);
      assert.notEqual((await login(p.port)).code, 0, `port ${p.port}: it cannot log in`);
    }

    // the clear password is in no node's log and in no file a node wrote
    const files = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(d, e.name)) : [join(d, e.name)]));
    for (const [id, p] of cluster.procs) {
      assert.ok(!p.output().includes(carol.password), `node ${id}'s log`);
      const written = files(join(cluster.dir, id));
      assert.ok(written.some((f) => f.includes(`${join(id, 'smd')}`)), `node ${id} keeps its system metadata on disk (${written.join(', ')})`);
      for (const f of written) assert.ok(!readFileSync(f).includes(carol.password), `file ${f}`);
    }
  });

  it('a node that joins later receives the modules and index definitions, and serves calls with them at once', async () => {
    const d = await cluster.start('C4', { seeds: [await cluster.heartbeatAddress('C3')] });
    await formed(['C4', 'C3', 'C2', 'C1']);
    // calls wait until the node holds the cluster's modules; listing shows what is installed so far
    for (let i = 0; i < 10; i++) await aqlOk(d.port, `EXECUTE counter.bump(100) ON test.udf WHERE PK = 'k${i}'`);
    const client = await clientOf(node('C3').port);
    for (let i = 0; i < 10; i++) assert.equal((await client.get({ namespace: 'test', set: 'udf', key: `k${i}` })).bins['n'], BigInt(i + 100));
    assert.deepEqual((await aqlOk(d.port, 'SHOW MODULES')).map((r) => r.get('filename')), ['counter.js']);
    assert.deepEqual((await aqlOk(d.port, 'SHOW INDEXES test')).map((r) => r.get('indexname')), ['by_g'], 'and the index definitions');
    assert.equal((await aqlOk(d.port, 'SELECT * FROM test.idx WHERE g = 1')).length, 30);
  });
});
