import { strict as assert } from 'node:assert';
import { pages, checkRecordsPerMessage, MAX_RECORDS_PER_MESSAGE } from '../../core/server/wire/pages.ts';
import { DbError } from '../../core/errors/index.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function* source(items: Array<number | { wait: number }>): AsyncGenerator<number> {
  for (const x of items) {
    if (typeof x === 'number') yield x;
    else await sleep(x.wait);
  }
}

describe('server/wire: packing streamed records into messages', () => {
  it('fills pages up to the count, and sends the rest at the end', async () => {
    const out: number[][] = [];
    for await (const p of pages(source(Array.from({ length: 10 }, (_, i) => i)), 4, () => 1)) out.push(p);
    assert.deepEqual(out, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  });

  it('sends a page when its bytes reach the cap', async () => {
    const out: number[][] = [];
    for await (const p of pages(source([1, 2, 3, 4, 5]), 100, () => 600 * 1024)) out.push(p);
    assert.deepEqual(out, [[1, 2], [3, 4], [5]]);
  });

  it('sends a partial page once it is old, while the source is still looking for the next item', async () => {
    let third = false; // set when the source, after a long search, finds item 3
    async function* rare(): AsyncGenerator<number> {
      yield 1;
      yield 2;
      await sleep(1000);
      third = true;
      yield 3;
    }
    const seen: Array<{ page: number[]; thirdFound: boolean }> = [];
    for await (const p of pages(rare(), 100, () => 1, 20)) seen.push({ page: p, thirdFound: third });
    assert.deepEqual(seen, [{ page: [1, 2], thirdFound: false }, { page: [3], thirdFound: true }]);
  });

  it('closes the source when the consumer stops early, even while an item is pending', async () => {
    let closed = false;
    async function* slow(): AsyncGenerator<number> {
      try {
        yield 1;
        await sleep(200);
        yield 2;
      } finally {
        closed = true;
      }
    }
    for await (const p of pages(slow(), 100, () => 1, 10)) {
      assert.deepEqual(p, [1]);
      break;
    }
    await sleep(300);
    assert.equal(closed, true);
  });

  it('passes a source failure on', async () => {
    async function* failing(): AsyncGenerator<number> {
      yield 1;
      throw new DbError('SCAN_ABORT', 'cancelled');
    }
    const got: number[][] = [];
    await assert.rejects((async () => { for await (const p of pages(failing(), 100, () => 1, 1000)) got.push(p); })(), (e: unknown) => e instanceof DbError && e.code === 'SCAN_ABORT');
  });

  it('accepts 0 to 1000 records per message and refuses more with PARAMETER', () => {
    assert.equal(checkRecordsPerMessage(0), 0);
    assert.equal(checkRecordsPerMessage(MAX_RECORDS_PER_MESSAGE), 1000);
    assert.throws(() => checkRecordsPerMessage(1001), (e: unknown) => e instanceof DbError && e.code === 'PARAMETER');
  });
});
