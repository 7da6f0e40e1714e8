import { strict as assert } from 'node:assert';
import { andThen, Later, settled, type Maybe } from '../../core/transaction/maybe-async.ts';

/** A promise this test settles when it wants. */
function gate<T>(): { promise: Promise<T>; open: (v: T) => void; fail: (err: unknown) => void } {
  let open!: (v: T) => void;
  let fail!: (err: unknown) => void;
  const promise = new Promise<T>((resolve, reject) => { open = resolve; fail = reject; });
  return { promise, open, fail };
}

/** Resolves after every microtask queued so far (and those they queue) ran. */
const drained = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('transaction/maybe-async: Later', () => {
  it('runs every step composed onto one promise in the microtask that promise settles in', async () => {
    const g = gate<number>();
    const order: string[] = [];
    const source: Maybe<number> = Later.of(g.promise);
    const out: Maybe<string> = andThen(andThen(source, (n) => { order.push(`double ${n}`); return n * 2; }), (n) => { order.push(`text ${n}`); return `n=${n}`; });
    assert.ok(out instanceof Later, 'andThen on a Later composes (a Later, no promise of its own)');
    const ended: string[] = [];
    (out as Later<string>).settle({ resolved: (v) => ended.push(v), rejected: (e) => ended.push(`failed ${String(e)}`) });
    await drained();
    assert.deepEqual(order, [], 'nothing runs before the promise settles');
    g.open(21);
    // one microtask after the promise's: everything ran, in order, and the end was handed on
    await null;
    assert.deepEqual(order, ['double 21', 'text 42']);
    assert.deepEqual(ended, ['n=42']);
  });

  it('a rejection or a step that throws skips the steps after it, runs `always` and rejects', async () => {
    for (const how of ['rejected', 'step throws'] as const) {
      const g = gate<number>();
      const order: string[] = [];
      const later = Later.of(g.promise)
        .map((n) => { order.push('first'); if (how === 'step throws') throw new Error('step'); return n; })
        .map((n) => { order.push('second'); return n; })
        .always(() => { order.push('always'); });
      const outcome = settled(() => later).then((v) => `value ${v}`, (e: unknown) => `error ${(e as Error).message}`);
      if (how === 'rejected') g.fail(new Error('source'));
      else g.open(1);
      assert.equal(await outcome, how === 'rejected' ? 'error source' : 'error step', how);
      assert.deepEqual(order, how === 'rejected' ? ['always'] : ['first', 'always'], how);
    }
  });

  it('a step that answers with a promise makes the steps after it wait for it; `always` runs after it too', async () => {
    const g = gate<number>();
    const inner = gate<number>();
    const order: string[] = [];
    const later = Later.of(g.promise).map(() => inner.promise).always(() => { order.push('always'); }).map((n) => { order.push(`after ${n}`); return n + 1; });
    const value = later.then((v) => v);
    g.open(0);
    await drained();
    assert.deepEqual(order, [], 'waits for the step\'s promise');
    inner.open(5);
    assert.equal(await value, 6);
    assert.deepEqual(order, ['always', 'after 5']);
  });

  it('is a promise to code that knows nothing of it: await, then, catch, finally, Promise.all', async () => {
    assert.equal(await Later.of(Promise.resolve(3)).map((n) => n + 1), 4);
    assert.deepEqual(await Promise.all([Later.of(Promise.resolve('a')), Promise.resolve('b')]), ['a', 'b']);
    assert.equal(await Later.of(Promise.reject(new Error('x'))).catch((e: unknown) => (e as Error).message), 'x');
    let finished = false;
    await Later.of(Promise.resolve(1)).finally(() => { finished = true; });
    assert.ok(finished);
    // settled() of a value, a throw and a Later
    assert.equal(await settled(() => 1), 1);
    await assert.rejects(settled(() => { throw new Error('now'); }), /now/);
    assert.equal(await settled(() => Later.of(Promise.resolve(2))), 2);
  });
});
