import { strict as assert } from 'node:assert';
import { validateClusterConfig, validateClusterLayout, defaultQuantumMs, parseNodeId } from '../../core/cluster/config.ts';
import { DbError } from '../../core/plugin-api/index.ts';

const base = { nodeId: 'A1', heartbeat: { address: '127.0.0.1:3002' }, fabric: { address: '127.0.0.1:3001' } };

function rejects(cfg: unknown, re: RegExp): void {
  assert.throws(() => validateClusterConfig(cfg), (e: unknown) => e instanceof DbError && e.code === 'PARAMETER' && re.test(e.message) && e.hint !== undefined);
}

describe('cluster/config', () => {
  it('fills Aerospike defaults: 150 ms interval, timeout 10, quantum 1810 ms', () => {
    const c = validateClusterConfig(base);
    assert.equal(c.nodeId, 0xa1n);
    assert.equal(c.heartbeat.intervalMs, 150);
    assert.equal(c.heartbeat.timeout, 10);
    assert.equal(c.quantumMs, 1810);
    assert.equal(defaultQuantumMs(150, 10), 1810);
    assert.equal(c.replication.strategy, 'replication-global-key');
    assert.equal(c.clusterName, 'slipstream');
  });

  it('migration limits, the replica-write timeout and access addresses: defaults, values, refusals', () => {
    const d = validateClusterConfig(base);
    assert.deepEqual(d.migration, { maxIncoming: 4, recordsPerSecond: 0 });
    assert.equal(d.replicaWriteTimeoutMs, 1000);
    assert.equal(d.heartbeat.accessAddress, undefined);
    const c = validateClusterConfig({
      ...base, migration: { maxIncoming: 8, recordsPerSecond: 20_000 }, replicaWriteTimeoutMs: 2500,
      heartbeat: { address: '0.0.0.0:3002', accessAddress: '203.0.113.7:3002' }, fabric: { address: '0.0.0.0:3001', accessAddress: '203.0.113.7:3001' },
    });
    assert.deepEqual(c.migration, { maxIncoming: 8, recordsPerSecond: 20_000 });
    assert.equal(c.replicaWriteTimeoutMs, 2500);
    assert.equal(c.heartbeat.accessAddress, '203.0.113.7:3002');
    assert.equal(c.fabric.accessAddress, '203.0.113.7:3001');
    rejects({ ...base, migration: { maxIncoming: 0 } }, /maxIncoming/);
    rejects({ ...base, migration: { recordsPerSecond: -1 } }, /recordsPerSecond/);
    rejects({ ...base, migration: { threads: 2 } }, /threads/);
    rejects({ ...base, replicaWriteTimeoutMs: 5 }, /replicaWriteTimeoutMs/);
    rejects({ ...base, heartbeat: { address: '127.0.0.1:3002', accessAddress: '127.0.0.1:0' } }, /accessAddress: an access address needs a real port/);
    rejects({ ...base, fabric: { address: '127.0.0.1:3001', accessAddress: 'nowhere' } }, /fabric.accessAddress/);
  });

  it('parses node ids as hex strings or integers', () => {
    assert.equal(parseNodeId('0xBB9030011AC4202'), 0xbb9030011ac4202n);
    assert.equal(parseNodeId(17), 17n);
    assert.equal(parseNodeId('ffffffffffffffff'), 0xffffffffffffffffn);
  });

  it('rejects bad values with messages that name the setting', () => {
    rejects({ ...base, nodeId: 0 }, /cluster.nodeId: node id must be/);
    rejects({ ...base, nodeId: 'xyz' }, /cluster.nodeId/);
    rejects({ ...base, nodeId: '1ffffffffffffffff' }, /cluster.nodeId/);
    rejects({ ...base, heartbeat: { address: '127.0.0.1:70000' } }, /heartbeat.address: expected "host:port"/);
    rejects({ ...base, fabric: { address: 'localhost' } }, /fabric.address/);
    rejects({ ...base, fabric: { address: '127.0.0.1:3002' } }, /fabric and heartbeat both use/);
    rejects({ ...base, heartbeat: { address: '127.0.0.1:3002', intervalMs: 5 } }, /intervalMs: must be an integer from 10 to 600000/);
    rejects({ ...base, heartbeat: { address: '127.0.0.1:3002', timeout: 2 } }, /timeout/);
    rejects({ ...base, seeds: ['127.0.0.1:3002', '127.0.0.1:3002'] }, /listed twice/);
    rejects({ ...base, seeds: 'a:1' }, /seeds/);
    rejects({ ...base, clusterName: 'bad name!' }, /clusterName/);
    rejects({ ...base, replication: { strategy: 'storage-memory' } }, /replication.strategy/);
    rejects({ ...base, heartbeatInterval: 100 }, /heartbeatInterval: is not a cluster setting/);
  });

  it('rejects a layout with duplicate node ids or clashing ports', () => {
    const a = validateClusterConfig(base);
    const b = validateClusterConfig({ ...base, heartbeat: { address: '127.0.0.1:4002' }, fabric: { address: '127.0.0.1:4001' } });
    assert.throws(() => validateClusterLayout([a, b]), /node id A1 is also used by nodes\[0\]/);
    const c = validateClusterConfig({ ...base, nodeId: 'B2' });
    assert.throws(() => validateClusterLayout([a, c]), /127.0.0.1:3002 is also used/);
    const d = validateClusterConfig({ nodeId: 'C3', heartbeat: { address: '127.0.0.1:0' }, fabric: { address: '127.0.0.1:0' } });
    const e = validateClusterConfig({ nodeId: 'C4', heartbeat: { address: '127.0.0.1:0' }, fabric: { address: '127.0.0.1:0' } });
    validateClusterLayout([a, d, e]);
  });
});
