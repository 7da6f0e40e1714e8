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

/** One raw info request on a fresh, unauthenticated connection. */
function rawInfo(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    const body = Buffer.from(text, 'utf8');
    const head = Buffer.alloc(8);
    head.writeBigUInt64BE((2n << 56n) | (1n << 48n) | BigInt(body.length));
    let got = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 8 && got.length >= 8 + Number(got.readBigUInt64BE(0) & 0xffff_ffff_ffffn)) { s.destroy(); resolve(got.subarray(8).toString('utf8')); }
    });
    s.on('error', reject);
    s.write(Buffer.concat([head, body]));
  });
}

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
});
