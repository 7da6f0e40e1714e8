import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { nameText, response, ResponseWriter, type OutMsg } from '../../core/server/aerospike/message.ts';

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
});
