import { strict as assert } from 'node:assert';
import { hash } from 'node:crypto';
import fc from 'fast-check';
import { ripemd160 } from '../../core/model/ripemd160.ts';
import { computeDigest, type UserKey } from '../../core/model/index.ts';

const viaCrypto = (bytes: Uint8Array): string => hash('ripemd160', bytes, 'hex');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('model: RIPEMD-160 in JavaScript', () => {
  it('matches the published test vectors', () => {
    const vectors: Array<[string, string]> = [
      ['', '9c1185a5c5e9fc54612808977ee8f548b2258d31'],
      ['a', '0bdc9d2d256b3ee9daae347be6f4dc835a467ffe'],
      ['abc', '8eb208f7e05d987a9b044a8e98c6b087f15a0bfc'],
      ['message digest', '5d0689ef49d2fae572b881b123a85ffa21595f36'],
      ['abcdefghijklmnopqrstuvwxyz', 'f71c27109c692c1b56bbdceb5b9d2865b3708dbc'],
      ['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', '12a053384a9c0c88e405a06c27dcf49ada62eb2b'],
      ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', '9b752e45573d4b39f4dbd3323cab82bf63326bfb'],
    ];
    for (const [text, digest] of vectors) assert.equal(hex(ripemd160(Buffer.from(text, 'latin1'))), digest, text);
    assert.equal(hex(ripemd160(Buffer.alloc(1_000_000, 'a'))), '52783243c1697bdbe16d37f97f68f08325dc1528');
  });

  it('matches node:crypto for every length around the block and padding boundaries', () => {
    for (let n = 0; n <= 200; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff);
      assert.equal(hex(ripemd160(bytes)), viaCrypto(bytes), `length ${n}`);
    }
  });

  it('matches node:crypto for random inputs, and hashes only the given length of a longer array', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(40), (bytes, extra) => {
      assert.equal(hex(ripemd160(bytes)), viaCrypto(bytes));
      const padded = new Uint8Array(bytes.length + extra).fill(0xab);
      padded.set(bytes);
      assert.equal(hex(ripemd160(padded, bytes.length)), viaCrypto(bytes));
    }), { numRuns: 500 });
  });

  it('gives record digests equal to node:crypto over set ‖ type ‖ key, for any set and key', () => {
    const key: fc.Arbitrary<UserKey> = fc.oneof(
      fc.string({ minLength: 1, maxLength: 3000, unit: 'binary' }),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.uint8Array({ maxLength: 2000 }).map((a) => new Uint8Array(a)),
    );
    fc.assert(fc.property(fc.string({ maxLength: 63, unit: 'binary' }), key, (set, k) => {
      const body = typeof k === 'string' ? Buffer.from(k, 'utf8') : typeof k === 'bigint' ? (() => { const b = Buffer.alloc(8); b.writeBigInt64BE(k); return b; })() : Buffer.from(k);
      const type = typeof k === 'string' ? 3 : typeof k === 'bigint' ? 1 : 4;
      const expected = viaCrypto(Buffer.concat([Buffer.from(set, 'utf8'), Buffer.from([type]), body]));
      assert.equal(hex(computeDigest(set, k)), expected);
    }), { numRuns: 500 });
  });
});
