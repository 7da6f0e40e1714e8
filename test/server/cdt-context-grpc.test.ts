/**
 * CDT contexts over real gRPC, and the refusal of request fields the server does not know:
 * a field sent by a newer client must fail with PARAMETER, never be dropped silently (a context
 * on a list operation was once ignored that way, appending at the top level instead).
 */
import { strict as assert } from 'node:assert';
import { Client, credentials, Metadata, type ServiceError, type ServiceDefinition } from '@grpc/grpc-js';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { DbError, toPbKey, toPbOperation, type Operation } from '../../core/client/index.ts';
import { fromPbOperation } from '../../core/server/handlers/operations.ts';
import { RESULT_CODE_HEADER } from '../../core/wire/status.ts';
import { KeyValueServiceService, ListOp, OperateRequest } from '../../core/wire/generated/slipstream/v1/kv.ts';
import { AdminServiceService } from '../../core/wire/generated/slipstream/v1/admin.ts';
import { AqlServiceService } from '../../core/wire/generated/slipstream/v1/aql.ts';
import { ClusterServiceService } from '../../core/wire/generated/slipstream/v1/cluster.ts';
import { QueryServiceService } from '../../core/wire/generated/slipstream/v1/query.ts';
import { UdfServiceService } from '../../core/wire/generated/slipstream/v1/udf.ts';
import type { BinValue, MapKey } from '../../core/model/index.ts';

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n >>>= 7; }
  out.push(n);
  return out;
}

/** A length-delimited field `field` holding `body`. */
function lenField(field: number, body: Uint8Array): Uint8Array {
  return Uint8Array.from([...varint((field << 3) | 2), ...varint(body.length), ...body]);
}

/** A varint field the protos do not define. */
const UNKNOWN = Uint8Array.from([...varint((999 << 3) | 0), 1]);

async function rawCall(client: Client, path: string, body: Uint8Array, stream: boolean): Promise<ServiceError> {
  return new Promise((resolve, reject) => {
    const ser = (b: Uint8Array): Buffer => Buffer.from(b);
    const de = (b: Buffer): Buffer => b;
    if (!stream) {
      client.makeUnaryRequest(path, ser, de, body, new Metadata(), { deadline: Date.now() + 20_000 }, (err) => {
        if (err === null) reject(new Error(`${path} succeeded`)); else resolve(err);
      });
      return;
    }
    const call = client.makeServerStreamRequest(path, ser, de, body, new Metadata(), { deadline: Date.now() + 20_000 });
    call.on('data', () => undefined);
    call.on('error', (err: ServiceError) => resolve(err));
    call.on('end', () => reject(new Error(`${path} succeeded`)));
  });
}

describe('server/cdt contexts over gRPC and unknown request fields', function () {
  let t: TestNode;
  let raw: Client;
  before(async () => {
    t = await startTestNode({ config: { namespaces: [{ name: 'test', storage: 'storage-memory' }] } });
    raw = new Client(`127.0.0.1:${t.node.port}`, credentials.createInsecure());
  });
  after(async () => { raw?.close(); await t?.stop(); });
  const k = (key: string) => ({ namespace: 'test', set: 'ctx', key });

  it('converts contexts both ways (client → protobuf → server)', () => {
    const op: Operation = {
      op: 'list', bin: 'l', kind: 'append', value: 1n,
      ctx: [
        { type: 'listIndex', index: -1, create: { order: 'unordered', pad: true } }, { type: 'listRank', rank: 2 }, { type: 'listValue', value: [1n] },
        { type: 'mapIndex', index: 0 }, { type: 'mapRank', rank: -1 }, { type: 'mapKey', key: 'k', create: { order: 'keyOrdered' } }, { type: 'mapValue', value: 'v' },
      ],
    };
    assert.deepEqual(fromPbOperation(toPbOperation(op)), { ...op, values: [] });
  });

  it('carries list and map write flags both ways and applies them', async () => {
    const ops: Operation[] = [
      { op: 'list', bin: 'l', kind: 'appendItems', values: [1n], flags: { addUnique: true, insertBounded: false, noFail: true, partial: true } },
      { op: 'map', bin: 'm', kind: 'putItems', items: new Map([['a', 1n]]), keys: [], values: [], flags: { createOnly: true, updateOnly: false, noFail: false, partial: false } },
    ];
    for (const op of ops) {
      const back = fromPbOperation(toPbOperation(op)) as Record<string, unknown>;
      assert.deepEqual(back['flags'], (op as { flags: unknown }).flags);
    }
    await t.client.put(k('flags'), { l: [1n, 2n] });
    try {
      await t.client.operate(k('flags'), [{ op: 'list', bin: 'l', kind: 'append', value: 2n, flags: { addUnique: true } }]);
      assert.fail('expected ELEMENT_EXISTS');
    } catch (err) {
      assert.ok(err instanceof DbError);
      assert.equal(err.resultCode, 24);
    }
  });

  it('carries list sort flags both ways and applies them', async () => {
    const op: Operation = { op: 'list', bin: 'l', kind: 'sort', sortFlags: { descending: true, dropDuplicates: true } };
    assert.deepEqual((fromPbOperation(toPbOperation(op)) as Record<string, unknown>)['sortFlags'], op.sortFlags);
    await t.client.put(k('sorted'), { l: [1n, 3n, 2n, 3n] });
    await t.client.operate(k('sorted'), [op]);
    assert.deepEqual((await t.client.get(k('sorted'))).bins.l, [3n, 2n, 1n]);
  });

  it('appends inside [3, [1, [5, 3]]] at ctx [listIndex 1], not at the top level', async () => {
    await t.client.put(k('nested'), { l: [3n, [1n, [5n, 3n]]] });
    const r = await t.client.operate(k('nested'), [{ op: 'list', bin: 'l', kind: 'append', value: 9n, ctx: [{ type: 'listIndex', index: 1 }] }]);
    assert.deepEqual(r.bins['l'], 3n);
    assert.deepEqual((await t.client.get(k('nested'))).bins['l'], [3n, [1n, [5n, 3n], 9n]]);
    await t.client.operate(k('nested'), [{ op: 'list', bin: 'l', kind: 'sort', ctx: [{ type: 'listIndex', index: 1 }, { type: 'listIndex', index: 1 }] }]);
    assert.deepEqual((await t.client.get(k('nested'))).bins['l'], [3n, [1n, [3n, 5n], 9n]]);
  });

  it('creates a nested map path and reads through it in one operate', async () => {
    const r = await t.client.operate(k('create'), [
      { op: 'map', bin: 'm', kind: 'put', key: 'visits', value: 1n, ctx: [{ type: 'mapKey', key: 'site', create: { order: 'unordered' } }, { type: 'mapKey', key: 'day1', create: { order: 'unordered' } }] },
      { op: 'map', bin: 'm', kind: 'increment', key: 'visits', value: 4n, ctx: [{ type: 'mapKey', key: 'site' }, { type: 'mapKey', key: 'day1' }] },
      { op: 'map', bin: 'm', kind: 'getByKey', key: 'visits', returnType: 'value', ctx: [{ type: 'mapKey', key: 'site' }, { type: 'mapKey', key: 'day1' }] },
    ]);
    assert.deepEqual(r.bins['m'], [1n, 5n, 5n]);
    const m = (...e: Array<[MapKey, BinValue]>) => new Map(e);
    assert.deepEqual((await t.client.get(k('create'))).bins['m'], m(['site', m(['day1', m(['visits', 5n])])]));
  });

  it('answers OP_NOT_APPLICABLE (26) for a path that does not resolve and BIN_TYPE (12) for the wrong kind, changing nothing', async () => {
    await t.client.put(k('bad'), { l: [1n, [2n]] });
    for (const [ctx, want] of [[[{ type: 'listIndex', index: 5 }], 26], [[{ type: 'mapKey', key: 'x' }], 26], [[{ type: 'listIndex', index: 0 }], 12]] as const) {
      try {
        await t.client.operate(k('bad'), [{ op: 'list', bin: 'l', kind: 'append', value: 1n }, { op: 'list', bin: 'l', kind: 'append', value: 7n, ctx }]);
        assert.fail('expected a failure');
      } catch (err) {
        assert.ok(err instanceof DbError);
        assert.equal(err.resultCode, want, err.message);
      }
    }
    assert.deepEqual((await t.client.get(k('bad'))).bins['l'], [1n, [2n]]);
  });

  it('refuses a request field the server does not know, on every RPC, with PARAMETER (4)', async () => {
    const services: Array<ServiceDefinition> = [KeyValueServiceService, AdminServiceService, AqlServiceService, ClusterServiceService, QueryServiceService, UdfServiceService];
    let n = 0;
    for (const service of services) {
      for (const [name, method] of Object.entries(service)) {
        const err = await rawCall(raw, method.path, UNKNOWN, method.responseStream);
        if (err.code === 12 && service === ClusterServiceService) continue; // served by clustered nodes only
        assert.equal(err.metadata.get(RESULT_CODE_HEADER)[0], '4', `${name}: ${err.details}`);
        assert.match(err.details, /field 999 at its top level, which this server does not know/, name);
        n++;
      }
    }
    assert.ok(n >= 28, `every RPC was tried (${n})`);
  });

  it('refuses an unknown field nested inside a list operation', async () => {
    await t.client.put(k('unknown'), { l: [3n, [1n]] });
    const listOp = ListOp.encode(toPbOperation({ op: 'list', bin: 'l', kind: 'append', value: 9n }).op!.value as ListOp).finish();
    const operation = lenField(9, Uint8Array.from([...listOp, ...UNKNOWN]));
    const request = Uint8Array.from([...OperateRequest.encode({ key: toPbKey(k('unknown')), operations: [] }).finish(), ...lenField(2, operation)]);
    const err = await rawCall(raw, KeyValueServiceService.operate.path, request, false);
    assert.equal(err.metadata.get(RESULT_CODE_HEADER)[0], '4');
    assert.match(err.details, /field 999 in operations\[…\]\.list/);
    assert.deepEqual((await t.client.get(k('unknown'))).bins['l'], [3n, [1n]], 'nothing was appended');
  });
});
