import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { KeyValueServiceService } from '../../core/wire/generated/slipstream/v1/kv.ts';
import { AdminServiceService } from '../../core/wire/generated/slipstream/v1/admin.ts';
import { RESULT_CODE_HEADER } from '../../core/wire/status.ts';
import { DbError } from '../../core/client/index.ts';
import type { Bins } from '../../core/model/index.ts';

const SEED = Number(process.env['FUZZ_SEED'] ?? Date.now() % 100000);

function rawCall(client: Client, path: string, body: Buffer): Promise<{ ok: boolean; err?: ServiceError }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, new Metadata(), { deadline: Date.now() + 5000 },
      (err: ServiceError | null) => resolve(err ? { ok: false, err } : { ok: true }));
  });
}

describe('server/fuzz: hostile and malformed requests', function () {
  this.timeout(120_000);
  let t: TestNode;
  let raw: Client;
  before(async () => {
    t = await startTestNode();
    raw = new Client(`127.0.0.1:${t.node.port}`, credentials.createInsecure());
  });
  after(async () => { raw.close(); await t.stop(); });

  it(`survives random bytes sent to every method (seed ${SEED})`, async () => {
    const paths = [...Object.values(KeyValueServiceService), ...Object.values(AdminServiceService)]
      .filter((m) => !m.responseStream).map((m) => m.path);
    await fc.assert(fc.asyncProperty(fc.constantFrom(...paths), fc.uint8Array({ maxLength: 300 }), async (path, bytes) => {
      const res = await rawCall(raw, path, Buffer.from(bytes));
      if (!res.ok) {
        // every failure is a clean gRPC status carrying a result code (bytes the decoder cannot
        // decode are PARAMETER, not the transport's INTERNAL "Error deserializing request")
        assert.equal(typeof res.err?.code, 'number');
        assert.notEqual(res.err?.code, 13, res.err?.details);
        assert.ok(res.err?.metadata.get(RESULT_CODE_HEADER).length === 1 || res.err?.code === 12 || res.err?.code === 3 || res.err?.code === 5 || res.err?.code === 6 || res.err?.code === 9 || res.err?.code === 8);
        assert.notEqual(res.err?.details, undefined);
      }
    }), { numRuns: 400, seed: SEED });
    assert.equal((await t.client.nodeInfo()).nodeId, 'A1', 'the node still answers');
  });

  const name = fc.oneof(fc.constantFrom('test', 'demo', '', 'a', 'x'.repeat(15), 'x'.repeat(16)), fc.string({ maxLength: 70 }));
  const leaf = fc.oneof(
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.double(), fc.string({ maxLength: 50 }), fc.boolean(),
    fc.uint8Array({ maxLength: 20 }).map((a) => new Uint8Array(a)), fc.constant(null),
  );
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 4 }),
      fc.array(fc.tuple(fc.string({ maxLength: 5 }), tie('v')), { maxLength: 4 }).map((es) => new Map(es))),
  })).v;

  // TTLs are never short enough to expire during the test: expiry is tested elsewhere, and
  // here an expired record would look like a lost write.
  it(`keeps acknowledged writes under random structured requests (seed ${SEED})`, async () => {
    const acked = new Map<string, { key: { namespace: string; set: string; key: string | bigint }; bins: Bins }>();
    await fc.assert(fc.asyncProperty(
      fc.record({ ns: fc.oneof({ arbitrary: fc.constant('test'), weight: 8 }, { arbitrary: name, weight: 2 }), set: name, key: fc.oneof(fc.string({ maxLength: 20 }), fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n })), bins: fc.dictionary(name, value, { maxKeys: 4 }), ttl: fc.oneof(fc.integer({ min: -5, max: 0 }), fc.integer({ min: 3600, max: 1 << 30 })), exists: fc.constantFrom('update', 'updateOnly', 'replace', 'replaceOnly', 'createOnly' as const) }),
      async (r) => {
        const key = { namespace: r.ns, set: r.set, key: r.key };
        try {
          await t.client.put(key, r.bins as Bins, { ttl: r.ttl, exists: r.exists });
          const id = JSON.stringify([r.ns, r.set, typeof r.key, String(r.key)]);
          const prev = r.exists.startsWith('replace') || r.exists === 'createOnly' ? {} : (acked.get(id)?.bins ?? {});
          const merged: Bins = { ...prev, ...(r.bins as Bins) };
          for (const [k, v] of Object.entries(merged)) if (v === null) delete merged[k];
          if (Object.keys(merged).length === 0) acked.delete(id); else acked.set(id, { key, bins: merged });
        } catch (err) {
          assert.ok(err instanceof DbError, String(err));
          assert.ok(err.code !== 'SERVER_ERROR' && err.code !== 'CLIENT_ERROR', `unexpected ${err.code}: ${err.message}`);
        }
      }), { numRuns: 300, seed: SEED });
    assert.ok(acked.size > 0, 'some writes were accepted');
    for (const [id, { key, bins }] of acked) {
      const rec = await t.client.get(key);
      assert.deepEqual(rec.bins, bins, `record ${id}`);
    }
  });
});
