/**
 * RIPEMD-160 in plain JavaScript, for record digests. A digest is computed for every keyed
 * request, over a few dozen bytes; node:crypto's one-shot hash() costs ~1.5 µs for that in
 * the call into OpenSSL alone (and several µs under load), this costs ~0.6 µs and allocates
 * only its 20-byte result. test/model/ripemd160.test.ts checks it against node:crypto for
 * random inputs of every length around the block boundaries.
 *
 * Reference: Dobbertin, Bosselaers, Preneel, "RIPEMD-160: A Strengthened Version of RIPEMD".
 */

/** Message word order per step, left line then right line. */
const RL = Uint8Array.from([
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8,
  3, 10, 14, 4, 9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12,
  1, 9, 11, 10, 0, 8, 12, 4, 13, 3, 7, 15, 14, 5, 6, 2,
  4, 0, 5, 9, 7, 12, 2, 10, 14, 1, 3, 8, 11, 6, 15, 13,
]);
const RR = Uint8Array.from([
  5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12,
  6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12, 4, 9, 1, 2,
  15, 5, 1, 3, 7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13,
  8, 6, 4, 1, 3, 11, 15, 0, 5, 12, 2, 13, 9, 7, 10, 14,
  12, 15, 10, 4, 1, 5, 8, 7, 6, 2, 13, 14, 0, 3, 9, 11,
]);
/** Rotation per step. */
const SL = Uint8Array.from([
  11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8,
  7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9, 11, 7, 13, 12,
  11, 13, 6, 7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5,
  11, 12, 14, 15, 14, 15, 9, 8, 9, 14, 5, 6, 8, 6, 5, 12,
  9, 15, 5, 11, 6, 8, 13, 12, 5, 12, 13, 14, 11, 8, 5, 6,
]);
const SR = Uint8Array.from([
  8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6,
  9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7, 6, 15, 13, 11,
  9, 7, 15, 11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5,
  15, 5, 8, 11, 14, 14, 6, 14, 6, 9, 12, 9, 12, 5, 15, 8,
  8, 5, 12, 9, 12, 5, 14, 6, 8, 13, 6, 5, 15, 13, 11, 11,
]);

const X = new Int32Array(16);
const H = new Int32Array(5);

/** One 64-byte block from X into H: the left and right lines, each in five rounds of 16 steps. */
function compress(): void {
  let al = H[0] as number, bl = H[1] as number, cl = H[2] as number, dl = H[3] as number, el = H[4] as number;
  let ar = al, br = bl, cr = cl, dr = dl, er = el;
  let t = 0, s = 0, j = 0;
  const x = X, rl = RL, rr = RR, sl = SL, sr = SR;
  // Each step: t = rol(a + f(b, c, d) + X[r] + K, s) + e; a = e; e = d; d = rol(c, 10); c = b; b = t.
  // The right line uses the five functions in reverse order.
  for (; j < 16; j++) {
    t = (al + (bl ^ cl ^ dl) + (x[rl[j] as number] as number)) | 0; s = sl[j] as number;
    t = (((t << s) | (t >>> (32 - s))) + el) | 0; al = el; el = dl; dl = (cl << 10) | (cl >>> 22); cl = bl; bl = t;
    t = (ar + (br ^ (cr | ~dr)) + (x[rr[j] as number] as number) + 0x50a28be6) | 0; s = sr[j] as number;
    t = (((t << s) | (t >>> (32 - s))) + er) | 0; ar = er; er = dr; dr = (cr << 10) | (cr >>> 22); cr = br; br = t;
  }
  for (; j < 32; j++) {
    t = (al + ((bl & cl) | (~bl & dl)) + (x[rl[j] as number] as number) + 0x5a827999) | 0; s = sl[j] as number;
    t = (((t << s) | (t >>> (32 - s))) + el) | 0; al = el; el = dl; dl = (cl << 10) | (cl >>> 22); cl = bl; bl = t;
    t = (ar + ((br & dr) | (cr & ~dr)) + (x[rr[j] as number] as number) + 0x5c4dd124) | 0; s = sr[j] as number;
    t = (((t << s) | (t >>> (32 - s))) + er) | 0; ar = er; er = dr; dr = (cr << 10) | (cr >>> 22); cr = br; br = t;
  }
  for (; j < 48; j++) {
    t = (al + ((bl | ~cl) ^ dl) + (x[rl[j] as number] as number) + 0x6ed9eba1) | 0; s = sl[j] as number;
    t = (((t << s) | (t >>> (32 - s))) + el) | 0; al = el; el = dl; dl = (cl << 10) | (cl >>> 22); cl = bl; bl = t;
    t = (ar + ((br | ~cr) ^ dr) + (x[rr[j] as number] as number) + 0x6d703ef3) | 0; s = sr[j] as number;
    t = (((t << s) | (t >>> (32 - s))) + er) | 0; ar = er; er = dr; dr = (cr << 10) | (cr >>> 22); cr = br; br = t;
  }
  for (; j < 64; j++) {
    t = (al + ((bl & dl) | (cl & ~dl)) + (x[rl[j] as number] as number) + 0x8f1bbcdc) | 0; s = sl[j] as number;
    t = (((t << s) | (t >>> (32 - s))) + el) | 0; al = el; el = dl; dl = (cl << 10) | (cl >>> 22); cl = bl; bl = t;
    t = (ar + ((br & cr) | (~br & dr)) + (x[rr[j] as number] as number) + 0x7a6d76e9) | 0; s = sr[j] as number;
    t = (((t << s) | (t >>> (32 - s))) + er) | 0; ar = er; er = dr; dr = (cr << 10) | (cr >>> 22); cr = br; br = t;
  }
  for (; j < 80; j++) {
    t = (al + (bl ^ (cl | ~dl)) + (x[rl[j] as number] as number) + 0xa953fd4e) | 0; s = sl[j] as number;
    t = (((t << s) | (t >>> (32 - s))) + el) | 0; al = el; el = dl; dl = (cl << 10) | (cl >>> 22); cl = bl; bl = t;
    t = (ar + (br ^ cr ^ dr) + (x[rr[j] as number] as number)) | 0; s = sr[j] as number;
    t = (((t << s) | (t >>> (32 - s))) + er) | 0; ar = er; er = dr; dr = (cr << 10) | (cr >>> 22); cr = br; br = t;
  }
  t = ((H[1] as number) + cl + dr) | 0;
  H[1] = ((H[2] as number) + dl + er) | 0;
  H[2] = ((H[3] as number) + el + ar) | 0;
  H[3] = ((H[4] as number) + al + br) | 0;
  H[4] = ((H[0] as number) + bl + cr) | 0;
  H[0] = t;
}

/** Loads 64 bytes of `data` from `at` into X (little-endian words). */
function load(data: Uint8Array, at: number): void {
  for (let i = 0; i < 16; i++, at += 4) {
    X[i] = (data[at] as number) | ((data[at + 1] as number) << 8) | ((data[at + 2] as number) << 16) | ((data[at + 3] as number) << 24);
  }
}

const tail = new Uint8Array(128);

/** RIPEMD-160 of `data[0, length)` (the whole array by default): a new 20-byte array. */
export function ripemd160(data: Uint8Array, length = data.length): Uint8Array {
  H[0] = 0x67452301; H[1] = 0xefcdab89; H[2] = 0x98badcfe; H[3] = 0x10325476; H[4] = 0xc3d2e1f0;
  let at = 0;
  for (; at + 64 <= length; at += 64) {
    load(data, at);
    compress();
  }
  // the rest, 0x80, zeros, and the length in bits as a 64-bit little-endian number
  const rest = length - at;
  tail.fill(0);
  for (let i = 0; i < rest; i++) tail[i] = data[at + i] as number;
  tail[rest] = 0x80;
  const blocks = rest < 56 ? 1 : 2;
  const end = blocks * 64;
  const bits = length * 8;
  tail[end - 8] = bits & 0xff;
  tail[end - 7] = (bits >>> 8) & 0xff;
  tail[end - 6] = (bits >>> 16) & 0xff;
  tail[end - 5] = (bits >>> 24) & 0xff;
  const high = Math.floor(bits / 4294967296);
  tail[end - 4] = high & 0xff;
  tail[end - 3] = (high >>> 8) & 0xff;
  tail[end - 2] = (high >>> 16) & 0xff;
  tail[end - 1] = (high >>> 24) & 0xff;
  for (let b = 0; b < blocks; b++) {
    load(tail, b * 64);
    compress();
  }
  const out = new Uint8Array(20);
  for (let i = 0; i < 5; i++) {
    const h = H[i] as number;
    out[i * 4] = h & 0xff;
    out[i * 4 + 1] = (h >>> 8) & 0xff;
    out[i * 4 + 2] = (h >>> 16) & 0xff;
    out[i * 4 + 3] = (h >>> 24) & 0xff;
  }
  return out;
}
