/**
 * The backup tools against a node with TLS and security on (asbackup's --tls-cafile, -U/-P),
 * and encrypted backups (--encrypt aes128|aes256 with --encryption-key-file/-env): the files
 * hold no plain bin text, a restore without the key or with another key is refused, the
 * right key restores every record.
 */
import { strict as assert } from 'node:assert';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createNode, type SlipstreamNode } from '../../core/node/node.ts';
import { parseConfig } from '../../core/node/config.ts';
import { silentLogger } from '../../core/plugin-api/index.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { SlipstreamClient } from '../../core/client/index.ts';
import { keyFromMaterial, open, seal } from '../../core/tools/backup/encryption.ts';
import { importFromFile } from '../../core/tools/columnar/transfer.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TLS = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
const run = promisify(execFile);
const ADMIN = 'admin-secret-1';
const N = 200;

/** Runs a tool binary; resolves with its exit code and output (never rejects on a non-zero exit). */
async function tool(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [join(ROOT, `bin/${name}.js`), ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('tools/backup and restore over TLS with security, encrypted', function () {
  this.timeout(180_000);
  let node: SlipstreamNode;
  let dir: string;
  let client: SlipstreamClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipstream-backup-secure-'));
    writeFileSync(join(dir, 'admin.password'), ADMIN);
    node = await createNode(parseConfig({
      node: { id: 'A1', host: '127.0.0.1', port: 0, dataDir: dir, tls: { certFile: join(TLS, 'server.pem'), keyFile: join(TLS, 'server.key') } },
      namespaces: [{ name: 'test', storage: 'storage-memory' }],
      security: { adminPasswordFile: 'admin.password' },
    }), { plugins: [memoryStorage()], logger: silentLogger });
    client = await SlipstreamClient.connect({ hosts: `127.0.0.1:${node.port}`, tls: { ca: readFileSync(join(TLS, 'ca.pem')) }, user: 'admin', password: ADMIN, timeoutMs: 10_000, connectTimeoutMs: 10_000 });
    for (let i = 0; i < N; i++) await client.put({ namespace: 'test', set: 's', key: BigInt(i) }, { text: `plain-text-marker-${i}`, n: BigInt(i) }, { sendKey: true });
  });
  after(async () => {
    client?.close();
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('seals blocks with AES-GCM: a wrong key or an altered byte is refused', () => {
    const material = randomBytes(32);
    for (const mode of ['aes128', 'aes256'] as const) {
      const k = keyFromMaterial(material, mode);
      assert.equal(k.key.length, mode === 'aes128' ? 16 : 32);
      const sealed = seal(k, Buffer.from('hello blocks'));
      assert.equal(open(k, sealed).toString(), 'hello blocks');
      assert.notDeepEqual(seal(k, Buffer.from('hello blocks')), sealed, 'a fresh nonce per block');
      assert.throws(() => open(keyFromMaterial(randomBytes(32), mode), sealed), /does not decrypt with this key/);
      const altered = Buffer.from(sealed);
      altered[14] = (altered[14] as number) ^ 1;
      assert.throws(() => open(k, altered), /does not decrypt/);
    }
    assert.throws(() => keyFromMaterial(Buffer.from('short'), 'aes128'), /at least 16/);
  });

  it('backs up and restores with --tls-cafile, -U/-P and --encrypt; refuses without credentials or the key', async () => {
    const conn = ['-h', `127.0.0.1:${node.port}`, '--tls-cafile', join(TLS, 'ca.pem'), '-U', 'admin', '-P', ADMIN, '--no-progress'];
    const keyFile = join(dir, 'backup-key.pem');
    writeFileSync(keyFile, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const out = join(dir, 'enc');

    // without credentials the node refuses the tool
    const anonymous = await tool('slipstream-backup', ['-h', `127.0.0.1:${node.port}`, '--tls-cafile', join(TLS, 'ca.pem'), '-n', 'test', '-d', join(dir, 'anon'), '--no-progress']);
    assert.equal(anonymous.code, 1, anonymous.stdout);
    assert.match(anonymous.stderr, /slipstream-backup: Error (80|81|52|53): /);
    // without TLS it cannot connect at all
    const plain = await tool('slipstream-backup', ['-h', `127.0.0.1:${node.port}`, '-U', 'admin', '-P', ADMIN, '-n', 'test', '-d', join(dir, 'plain'), '--no-progress']);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /cannot connect/);

    const b = await tool('slipstream-backup', [...conn, '-n', 'test', '-d', out, '-z', 'none', '--encrypt', 'aes256', '--encryption-key-file', keyFile]);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, new RegExp(`backed up ${N} records`));
    const manifest = JSON.parse(readFileSync(join(out, 'backup.json'), 'utf8')) as { encryption: string; keyCheck: string; version: number };
    assert.equal(manifest.encryption, 'aes256');
    assert.equal(manifest.version, 2);
    for (const f of readdirSync(out).filter((x) => x.endsWith('.slb'))) {
      assert.ok(!readFileSync(join(out, f)).includes('plain-text-marker'), `${f} holds no plain bin text (uncompressed, encrypted)`);
    }

    await client.truncate('test');
    const noKey = await tool('slipstream-restore', [...conn, '-d', out]);
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /the backup is encrypted \(aes256\)\n.*--encrypt aes256/);
    const otherKey = join(dir, 'other-key.pem');
    writeFileSync(otherKey, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const wrong = await tool('slipstream-restore', [...conn, '-d', out, '--encrypt', 'aes256', '--encryption-key-file', otherKey]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /not the one the backup was written with/);

    // the key from an environment variable (base64 of the same PEM file)
    const r = await tool('slipstream-restore', [...conn, '-d', out, '--encrypt', 'aes256', '--encryption-key-env', 'SLIPSTREAM_TEST_BACKUP_KEY'], { SLIPSTREAM_TEST_BACKUP_KEY: readFileSync(keyFile).toString('base64') });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`restored ${N} records`));
    for (let i = 0; i < N; i += 37) {
      assert.deepEqual((await client.get({ namespace: 'test', set: 's', key: BigInt(i) })).bins, { text: `plain-text-marker-${i}`, n: BigInt(i) });
    }
  });

  it('imports a file (a client-streaming call) with the session token: through the client and through slipstream-import -U/-P', async () => {
    const csv = join(dir, 'rows.csv');
    writeFileSync(csv, ['k,n,name', ...Array.from({ length: 50 }, (_, i) => `row-${i},${i},name-${i}`)].join('\n') + '\n');
    const viaClient = await importFromFile(client, { namespace: 'test', set: 'imported', file: csv, format: 'csv', keyColumn: 'k', types: { n: 'int' } });
    assert.deepEqual(viaClient, { imported: 50, failed: 0, errors: [] });
    assert.deepEqual((await client.get({ namespace: 'test', set: 'imported', key: 'row-7' })).bins, { n: 7n, name: 'name-7' });

    await client.truncate('test', 'imported');
    const conn = ['-h', `127.0.0.1:${node.port}`, '--tls-cafile', join(TLS, 'ca.pem')];
    const cli = await tool('slipstream-import', [...conn, '-U', 'admin', '-P', ADMIN, '-n', 'test', '-s', 'imported', '-i', csv, '-k', 'k', '-t', 'n:int']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /imported 50 records into test\.imported/);
    assert.deepEqual((await client.get({ namespace: 'test', set: 'imported', key: 'row-49' })).bins, { n: 49n, name: 'name-49' });
    // without a login the node refuses the import (the refusal is the node's, not a lost token's)
    const anonymous = await tool('slipstream-import', [...conn, '-n', 'test', '-s', 'imported', '-i', csv, '-k', 'k']);
    assert.equal(anonymous.code, 1, anonymous.stdout);
    assert.match(anonymous.stderr, /slipstream-import: Error (80|81|52|53): /);
  });
});
