/**
 * `npm run cluster -- --nodes 3 [--rf 2] [--storage memory|lmdb] [--base-port 3000] [--data-dir ./data/cluster] [--replication replication-rack-aware]`
 * starts a local cluster on 127.0.0.1 for trying things out: node i (ids A1, A2, …) serves gRPC on
 * base+10·i, fabric on base+10·i+1 and heartbeat on base+10·i+2, and every node seeds from the
 * others. Prints the cluster once it has formed; Ctrl-C stops every node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { credentials } from '@grpc/grpc-js';
import { ClusterServiceClient, type GetClusterInfoResponse } from '../core/wire/generated/slipstream/v1/cluster.ts';

const MAIN = fileURLToPath(new URL('../core/main.ts', import.meta.url));
const int = (min: number, max: number) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
  return n;
};
const opts = new Command()
  .name('npm run cluster --')
  .option('-n, --nodes <n>', 'number of nodes (1-9)', int(1, 9), 3)
  .option('--base-port <port>', 'first gRPC port', int(1024, 65000), 3000)
  .option('--data-dir <dir>', 'folder for configs and data', './data/cluster')
  .option('--replication <plugin>', 'replication strategy', 'replication-global-key')
  .option('--racks <n>', 'spread nodes over this many racks', int(1, 9), 1)
  .option('--rf <n>', 'replication factor of namespace test (copies of each record)', int(1, 9), 2)
  .addOption(new Option('--storage <engine>', 'storage of namespace test: memory, or lmdb (durable, under --data-dir)').choices(['memory', 'lmdb']).default('memory'))
  .parse()
  .opts<{ nodes: number; basePort: number; dataDir: string; replication: string; racks: number; rf: number; storage: 'memory' | 'lmdb' }>();

const dataDir = resolve(opts.dataDir);
mkdirSync(dataDir, { recursive: true });
const hb = (i: number): string => `127.0.0.1:${opts.basePort + 10 * i + 2}`;
const children: ChildProcess[] = [];
for (let i = 0; i < opts.nodes; i++) {
  const id = `A${i + 1}`;
  const file = join(dataDir, `${id}.json`);
  writeFileSync(file, JSON.stringify({
    node: { id, host: '127.0.0.1', port: opts.basePort + 10 * i, dataDir: join(dataDir, id) },
    logLevel: 'info',
    namespaces: [opts.storage === 'lmdb'
      ? { name: 'test', storage: 'storage-lmdb', replicationFactor: opts.rf, storageOptions: { dataDir: 'test' } }
      : { name: 'test', storage: 'storage-memory', replicationFactor: opts.rf }],
    cluster: {
      clusterName: 'local', rackId: i % opts.racks,
      heartbeat: { address: hb(i) }, fabric: { address: `127.0.0.1:${opts.basePort + 10 * i + 1}` },
      seeds: Array.from({ length: opts.nodes }, (_, j) => j).filter((j) => j !== i).map(hb),
      replication: opts.replication,
    },
  }, null, 2));
  const child = spawn(process.execPath, ['--no-node-snapshot', MAIN, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = (d: Buffer): void => { for (const line of d.toString().split('\n')) if (line.length > 0) process.stdout.write(`[${id}] ${line}\n`); };
  child.stdout.on('data', prefix);
  child.stderr.on('data', prefix);
  child.on('exit', (code, sig) => console.log(`[${id}] exited (${code ?? sig})`));
  children.push(child);
}

function info(port: number): Promise<GetClusterInfoResponse> {
  const c = new ClusterServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise((res, rej) => c.getClusterInfo({}, (err, r) => { c.close(); if (err) rej(err); else res(r); }));
}

const stopAll = (): void => { for (const c of children) if (c.exitCode === null) c.kill('SIGTERM'); };
process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);

const deadline = Date.now() + 60_000;
for (;;) {
  await new Promise((r) => setTimeout(r, 250));
  const r = await info(opts.basePort).catch(() => undefined);
  if (r !== undefined && r.members.length === opts.nodes && r.members.every((m) => m.state === 'online')) {
    console.log(`\ncluster '${r.clusterName}' formed: key ${r.clusterKey}, principal ${r.principal}; namespace test: RF ${opts.rf}, ${opts.storage}`);
    for (const m of r.members) {
      const p = m.partitions[0];
      console.log(`  ${m.nodeId.padEnd(4)} gRPC ${m.serviceAddress}  rack ${m.rackId}  ${m.state}  masters ${p?.masters ?? 0}  replicas ${p?.replicas ?? 0}`);
    }
    console.log('\nCtrl-C stops the cluster.');
    break;
  }
  if (Date.now() > deadline) {
    console.error('the cluster did not form within 60 s; see the node logs above');
    stopAll();
    process.exitCode = 1;
    break;
  }
}
