import { strict as assert } from 'node:assert';
import { computeDigest, digestHex, partitionOf, makeKey } from '../../core/model/index.ts';

describe('model/digest', () => {
  // Vectors from the reference (§1): the first is documented by Aerospike's Python client.
  const vectors: Array<[string, string | bigint, string, number]> = [
    ['demo', 'key', '3bd475bd0c73f210b67ea83793300eeae576285d', 1083],
    ['demo', 1n, 'b7f4b83889e2da67de683e1df6919a1eacc446c8', 1207],
    ['demo', '1', '6576b4888ccf929c200b6fbd90d09df3f6d10cf3', 1637],
    ['', 'key', 'c4a24d9f0ef5584b4278994e75637f54dc564283', 708],
  ];
  for (const [set, key, hex, pid] of vectors) {
    it(`digest of (${JSON.stringify(set)}, ${typeof key === 'bigint' ? `${key}n` : JSON.stringify(key)})`, () => {
      const d = computeDigest(set, key);
      assert.equal(digestHex(d), hex);
      assert.equal(partitionOf(d), pid);
      assert.equal(makeKey('test', set, key).partition, pid);
    });
  }
  it('integer and string keys with the same text differ', () => {
    assert.notEqual(digestHex(computeDigest('demo', 1n)), digestHex(computeDigest('demo', '1')));
  });
});
