/**
 * Hostile values against a real node process: values nested deeper than a response can carry
 * are refused with PARAMETER on every write path (put, AQL INSERT, UDF), while the deepest
 * allowed value is stored and read back by get and scan; more than 65,535 bins, a deeply nested
 * filter literal and a bin name that was not valid UTF-8 are refused with PARAMETER-class codes.
 */
import { strict as assert } from 'node:assert';
import { DbError, toPbKey, type ClientRecord } from '../../core/client/index.ts';
import { MAX_VALUE_DEPTH, type BinValue } from '../../core/model/index.ts';
import { KeyValueServiceService } from '../../core/wire/generated/slipstream/v1/kv.ts';
import { UdfServiceService } from '../../core/wire/generated/slipstream/v1/udf.ts';
import { toPbValue } from '../../core/wire/convert.ts';
import { assertServed, startHostileNode, whileServed, type HostileNode } from './harness.ts';
import { aql } from './aql-helper.ts';

const nestedList = (levels: number): BinValue => {
  let v: BinValue = 1n;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
};
const nestedMap = (levels: number): BinValue => {
  let v: BinValue = 'leaf';
  for (let i = 0; i < levels; i++) v = new Map([['k', v]]);
  return v;
};

const DEEP = `
export function deep(rec, n) { let v = 1; for (let i = 0; i < n; i++) v = [v]; rec.d = v; aerospike.update(rec); return 1; }
`;

describe('hostile/values: nesting, bin count, literals and names', function () {
  this.timeout(120_000);
  let node: HostileNode;
  const key = (k: string) => ({ namespace: 'test', set: 'v', key: k });
  const failure = (p: Promise<unknown>): Promise<DbError> => p.then(() => assert.fail('expected an error'), (e: unknown) => {
    assert.ok(e instanceof DbError, String(e));
    return e;
  });
  before(async () => {
    node = await startHostileNode();
    await node.client.unary(UdfServiceService.registerModule as never, { fileName: 'deep.js', source: DEEP } as never, {}, false);
  });
  after(async () => { await node?.stop(); });

  it(`values deeper than ${MAX_VALUE_DEPTH} levels are refused on every write path; the deepest allowed is readable`, async () => {
    const { result, served } = await whileServed('deep values', node, async () => {
      const put = await failure(node.client.put(key('list'), { d: nestedList(MAX_VALUE_DEPTH + 1) }));
      const put50 = await failure(node.client.put(key('list50'), { d: nestedList(50) }));
      const ins = await aql(node.client, `INSERT INTO test.v (PK, d) VALUES ('aql', LIST('${'['.repeat(50)}1${']'.repeat(50)}'))`);
      const udf = await failure(node.client.unary(UdfServiceService.applyRecordUdf as never, {
        key: toPbKey(key('udf')), call: { module: 'deep', function: 'deep', args: [toPbValue(60n)], timeoutMs: 0 },
      } as never, {}, false));
      await node.client.put(key('okList'), { d: nestedList(MAX_VALUE_DEPTH) });
      await node.client.put(key('okMap'), { d: nestedMap(MAX_VALUE_DEPTH) });
      const scanned: ClientRecord[] = [];
      for await (const r of node.client.scan('test', { set: 'v' })) scanned.push(r);
      return { put, put50, ins, udf, got: await node.client.get(key('okMap')), scanned };
    });
    assert.equal(result.put.code, 'PARAMETER', result.put.message);
    // 50 levels exceed the protobuf decoder's own limit (100 message levels): refused before the
    // kernel, still PARAMETER with a hint (not the transport's "Error deserializing request")
    assert.equal(result.put50.code, 'PARAMETER', result.put50.message);
    assert.match(result.put50.message, /cannot be decoded/);
    assert.match(result.put50.hint ?? '', /nest at most 24 levels/);
    assert.equal(result.ins.statuses[0]?.code, 4, JSON.stringify(result.ins.statuses));
    assert.ok(result.udf.resultCode === 4 || result.udf.resultCode === 100, `${result.udf.resultCode}: ${result.udf.message}`);
    assert.match(result.udf.message, /nests|levels/);
    assert.deepEqual(result.got.bins['d'], nestedMap(MAX_VALUE_DEPTH));
    assert.equal(result.scanned.length, 2, 'a scan of the namespace reads every stored record');
    assertServed(served);
  });

  it('more than 65,535 bins, a 5,000-level filter literal and a bin name with U+FFFD are refused, not SERVER_ERROR', async () => {
    const many: Record<string, BinValue> = {};
    for (let i = 0; i < 70_000; i++) many[`b${i}`] = 1n;
    const bins = await failure(node.client.put(key('many'), many));
    assert.equal(bins.code, 'PARAMETER', bins.message);
    const literal = `{"kind":"cmp","op":"=","left":{"kind":"bin","name":"d"},"right":{"kind":"lit","value":${'['.repeat(5000)}1${']'.repeat(5000)}}}`;
    const lit = await failure((async () => {
      for await (const _r of node.client.stream(KeyValueServiceService.scan, {
        namespace: 'test', set: 'v', partitions: [], afterDigest: new Uint8Array(0), bins: [], noBins: false, maxRecords: 0n, filterJson: literal, recordsPerMessage: 10,
      } as never)) { /* none */ }
    })());
    assert.equal(lit.code, 'PARAMETER', lit.message);
    const name = await failure(node.client.put(key('name'), { 'a\ufffdb': 1n }));
    assert.ok(name.code === 'BIN_NAME' || name.code === 'PARAMETER', `${name.code}: ${name.message}`);
    node.assertAlive();
  });
});
