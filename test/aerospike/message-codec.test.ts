import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { nameText, parseOpsAndFields, response, ResponseWriter, type OutMsg } from '../../core/server/aerospike/message.ts';

const SEED = Number(process.env['FUZZ_SEED'] ?? Date.now() % 100000);

describe('Aerospike protocol: the per-request codec shortcuts', () => {
  it(`writes a header-only answer byte for byte as the response writer does (seed ${SEED})`, () => {
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(fc.property(fc.record({
      resultCode: fc.integer({ min: 0, max: 255 }), generation: fc.option(u32, { nil: undefined }), voidTime: fc.option(u32, { nil: undefined }),
      transactionTtl: fc.option(u32, { nil: undefined }), info1: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
      info3: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
    }), (r) => {
      const m: OutMsg = Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as unknown as OutMsg;
      const w = new ResponseWriter();
      w.add(m);
      assert.deepEqual(response(m), w.finish());
    }), { seed: SEED, numRuns: 300 });
  });

  it(`decodes names as toString('utf8') does, through hits, slot collisions, invalid UTF-8 and reused buffers (seed ${SEED})`, () => {
    const names = fc.array(fc.uint8Array({ minLength: 0, maxLength: 80 }), { minLength: 1, maxLength: 600 });
    fc.assert(fc.property(names, fc.integer({ min: 0, max: 7 }), (list, pad) => {
      // many more names than the cache has slots, each decoded twice (a miss, then maybe a hit)
      for (const round of [0, 1]) {
        for (const bytes of list) {
          const buf = Buffer.alloc(bytes.length + 2 * pad, 0x7f);
          buf.set(bytes, pad);
          assert.equal(nameText(buf, pad, pad + bytes.length), buf.toString('utf8', pad, pad + bytes.length), `round ${round}`);
          // the request's buffer is reused by the next read: a cached name must not change with it
          buf.fill(0x41);
        }
      }
    }), { seed: SEED, numRuns: 40 });
    const bin = Buffer.from('count');
    const first = nameText(bin, 0, bin.length);
    bin.write('cOunt');
    assert.equal(first, 'count');
    assert.equal(nameText(bin, 0, bin.length), 'cOunt');
  });

  it(`reads fields as a map of the last field per type would, before and after fields are set (seed ${SEED})`, () => {
    const field = fc.record({ type: fc.integer({ min: 0, max: 60 }), data: fc.uint8Array({ minLength: 0, maxLength: 40 }) });
    fc.assert(fc.property(fc.array(field, { maxLength: 12 }), fc.array(field, { maxLength: 3 }), fc.integer({ min: 0, max: 5 }), (parsed, later, pad) => {
      const parts = parsed.map((f) => { const b = Buffer.alloc(5 + f.data.length); b.writeUInt32BE(1 + f.data.length, 0); b[4] = f.type; b.set(f.data, 5); return b; });
      const body = Buffer.concat([Buffer.alloc(pad, 0xee), ...parts]);
      const { fields, next } = parseOpsAndFields(body, pad, parsed.length, 0);
      assert.equal(next, body.length);
      const expected = new Map<number, Buffer>();
      for (const f of parsed) expected.set(f.type, Buffer.from(f.data));
      const check = (): void => {
        for (let type = 0; type <= 60; type++) {
          const want = expected.get(type);
          assert.equal(fields.has(type), want !== undefined, `has ${type}`);
          assert.deepEqual(fields.get(type), want, `get ${type}`);
          assert.equal(fields.name(type), want?.toString('utf8'), `name ${type}`);
          const copy = fields.copy(type);
          assert.deepEqual(copy === undefined ? undefined : Buffer.from(copy), want, `copy ${type}`);
        }
      };
      check();
      // a copy with one more field leaves the original as it was
      const before = new Map(expected);
      const withOne = fields.with(61, Buffer.from('x'));
      assert.equal(fields.has(61), false);
      assert.deepEqual(withOne.get(61), Buffer.from('x'));
      for (const f of later) {
        fields.set(f.type, Buffer.from(f.data));
        expected.set(f.type, Buffer.from(f.data));
      }
      check();
      for (const [type, want] of before) if (!later.some((f) => f.type === type)) assert.deepEqual(withOne.get(type), want);
    }), { seed: SEED, numRuns: 300 });
  });

  it('copies a field out of the request: changing the request later does not change the copy', () => {
    const body = Buffer.from([0, 0, 0, 5, 4, 1, 2, 3, 4]);
    const { fields } = parseOpsAndFields(body, 0, 1, 0);
    const copy = fields.copy(4) as Uint8Array;
    const view = fields.get(4) as Buffer;
    body.fill(9);
    assert.deepEqual([...copy], [1, 2, 3, 4]);
    assert.deepEqual([...view], [9, 9, 9, 9]);
    assert.equal(Object.getPrototypeOf(copy), Uint8Array.prototype);
  });
});

