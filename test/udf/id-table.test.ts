import { strict as assert } from 'node:assert';
import { IdTable } from '../../core/udf/id-table.ts';

describe('udf/id-table', function () {
  it('holds entries by id through collisions, growth and wrap-around, like a map', () => {
    // a seeded walk of adds and takes compared with a Map: sequential ids as the host's, one
    // long-lived entry that later ids collide with, ids wrapping past 2^32
    let seed = 12345;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const table = new IdTable<string>(4);
    const model = new Map<number, string>();
    let next = 0xffffffff - 3000;
    table.set(7, 'long-lived');
    model.set(7, 'long-lived');
    for (let step = 0; step < 20_000; step++) {
      if (rnd() < 0.55 || model.size === 0) {
        const id = next;
        next = next >= 0xffffffff ? 0 : next + 1;
        if (model.has(id)) continue;
        table.set(id, `v${id}`);
        model.set(id, `v${id}`);
      } else {
        const ids = [...model.keys()].filter((id) => id !== 7);
        const id = rnd() < 0.1 ? next + 5 : (ids[Math.floor(rnd() * ids.length)] ?? next + 9);
        assert.equal(table.take(id), model.get(id), `take ${id} at step ${step}`);
        model.delete(id);
      }
      assert.equal(table.size, model.size);
    }
    assert.deepEqual(new Map(table.entries()), model);
    assert.equal(table.take(7), 'long-lived');
    assert.equal(table.take(7), undefined);
    table.clear();
    assert.equal(table.size, 0);
    assert.deepEqual(table.entries(), []);
  });
});
