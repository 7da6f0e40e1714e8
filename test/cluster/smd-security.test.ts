/**
 * Users, roles and the session secret as replicated system metadata (two in-process nodes; the
 * cluster's SMD sync is played by merging one node's items into the other, which is what the
 * sync does): a user created on A logs in on B, A's session tokens are valid on B once B holds
 * A's secret (the older default wins), and a user dropped on A loses access on B as soon as the
 * deletion arrives.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { builtInExtensions } from '../../core/node/extensions.ts';
import type { NodeExtension } from '../../core/node/extension.ts';
import type { SystemMetadataStore } from '../../core/storage/system-metadata.ts';
import { SecurityServiceService } from '../../core/wire/generated/slipstream/v1/security.ts';
import { KeyValueServiceService } from '../../core/wire/generated/slipstream/v1/kv.ts';
import { bearer, login, rawCall, rawClient } from '../security/helpers.ts';

describe('cluster/users and sessions on every node', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  const nodes: TestNode[] = [];
  const stores: SystemMetadataStore[] = [];

  async function start(id: string): Promise<TestNode> {
    const dir = mkdtempSync(join(tmpdir(), 'slipstream-smd-sec-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'admin.password'), 'pw\n');
    const probe: NodeExtension = { name: 'probe', async start(ctx) { stores.push(ctx.systemMetadata); } };
    const t = await startTestNode({
      config: { node: { id, host: '127.0.0.1', port: 0, dataDir: dir }, security: { adminPasswordFile: 'admin.password' } },
      extensions: [...builtInExtensions(), probe],
    });
    nodes.push(t);
    return t;
  }
  after(async () => {
    for (const t of nodes) await t.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('a user created on A logs in on B with A\'s session; dropped on A, it loses access on B when the deletion arrives', async () => {
    const a = await start('A1');
    await new Promise((r) => setTimeout(r, 5)); // B's own default secret is the younger one
    const b = await start('A2');
    const [smdA, smdB] = stores as [SystemMetadataStore, SystemMetadataStore];
    const sync = async (): Promise<void> => { await smdB.merge(smdA.items()); };
    const ra = rawClient(a.node.port);
    const rb = rawClient(b.node.port);
    try {
      const admin = bearer(await login(ra, 'admin', 'pw'));
      assert.equal((await rawCall(ra, SecurityServiceService.createUser, { user: 'u1', password: 'p1', roles: ['read-write'] }, admin)).code, 0);
      const token = await login(ra, 'u1', 'p1');
      const get = { key: { namespace: 'test', set: 's', id: { $case: 'stringKey' as const, value: 'k' } }, bins: [], headerOnly: false, filterJson: '' };
      assert.equal((await rawCall(rb, KeyValueServiceService.get, get, bearer(token))).code, 80, 'before the sync B knows neither u1 nor A\'s secret');
      await sync();
      assert.equal((await rawCall(rb, KeyValueServiceService.get, get, bearer(token))).code, 2, 'A\'s token works on B (NOT_FOUND: the call ran)');
      await login(rb, 'u1', 'p1');
      assert.equal((await rawCall(ra, SecurityServiceService.dropUser, { user: 'u1' }, admin)).code, 0);
      await sync();
      const after = await rawCall(rb, KeyValueServiceService.get, get, bearer(token));
      assert.ok(after.code === 66 || after.code === 80, `the dropped user's session ends on B: ${after.code} ${after.message}`);
      await assert.rejects(login(rb, 'u1', 'p1'));
    } finally {
      ra.close();
      rb.close();
    }
  });
});
