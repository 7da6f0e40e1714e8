import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { SortedList } from '../../../core/query/index/index.ts';

describe('query/index sorted list', () => {
  it('behaves as a sorted array under random inserts and removes', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 60 })), { maxLength: 400 }), fc.integer({ min: 0, max: 60 }), (ops, from) => {
      const list = new SortedList<number>((a, b) => a - b, 4);
      const ref: number[] = [];
      for (const [ins, v] of ops) {
        if (ins) {
          list.insert(v);
          ref.push(v);
          ref.sort((a, b) => a - b);
        } else {
          const i = ref.indexOf(v);
          assert.equal(list.remove(v), i >= 0);
          if (i >= 0) ref.splice(i, 1);
        }
      }
      assert.deepEqual([...list], ref);
      assert.equal(list.size, ref.length);
      assert.deepEqual(list.take((x) => x - from, (x) => x < from + 10, 1000), ref.filter((x) => x >= from && x < from + 10));
      assert.equal(list.rank((x) => x - from), ref.filter((x) => x < from).length);
      assert.equal(list.has(from), ref.includes(from));
    }), { numRuns: 150 });
  });
});
