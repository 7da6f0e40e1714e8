/**
 * The CPU the fabric's frame codec costs per data-path frame, in this one process: encode and
 * decode of the frames a replicated write makes — a request carrying a batch of 4 replica copies
 * with piggybacked acks, its reply (with acks), and an ack frame — for each tree given, in
 * alternating rounds (the machine's load moves between rounds; compare within a round).
 *
 * `npx node bench/lib/frame-codec-cost.ts <tree> [<tree> …]` — each tree is a checkout whose
 * frame codec (core/cluster/frame-codec.ts, or messages.ts before it) is measured (default: this one), e.g. an export of main against a
 * branch. ROUNDS (default 7), FRAMES per measurement (default 50,000). Prints ns per frame:
 * encode, decode and both, per frame type and tree (the median over the rounds, and the least).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const trees = (process.argv.length > 2 ? process.argv.slice(2) : [new URL('../..', import.meta.url).pathname]).map((t) => resolve(t));
type Codec = {
  encodeFrame(frame: unknown): Uint8Array;
  decodeFrame(bytes: Uint8Array, channel?: string): { ok: boolean; reason?: string };
};
const codecs: Codec[] = [];
// the codec's module: frame-codec.ts, or messages.ts in a tree from before it had one
for (const t of trees) codecs.push(await import(pathToFileURL(resolve(t, existsSync(resolve(t, 'core/cluster/frame-codec.ts')) ? 'core/cluster/frame-codec.ts' : 'core/cluster/messages.ts')).href) as Codec);

const ROUNDS = Number(process.env['ROUNDS'] ?? 7);
const FRAMES = Number(process.env['FRAMES'] ?? 50_000);

// a batch of 4 replica copies: a count, then each copy's length and bytes (~150-byte records)
const copies = new Uint8Array(4 + 4 * (4 + 150)).map((_, i) => (i * 31) & 0xff);
const outcomes = new Uint8Array(4 + 4 * 2).map((_, i) => i & 3);
const head = { t: 'msg', from: 0xa1n, clusterName: 'slipstream', clusterKey: 0x1d2c3b4a59687766n, inc: 1_234_567_891, needsAck: true, kind: 'replica-write' };
const kinds: Record<string, (i: number) => unknown> = {
  request: (i) => ({ ...head, id: 100_000 + i, body: { type: 'request', rid: 50_000 + i, kind: 'batch:replica.write', body: copies }, acks: { inc: 987_654_321, ids: [70_000 + i, 70_001 + i] } }),
  reply: (i) => ({ ...head, id: 100_000 + i, body: { type: 'reply', rid: 50_000 + i, ok: true, body: outcomes }, acks: { inc: 987_654_321, ids: [70_000 + i] } }),
  ack: (i) => ({ t: 'ack', from: 0xa1n, inc: 987_654_321, id: 70_000 + i, more: [70_001 + i, 70_002 + i] }),
};

/** ns per frame to encode FRAMES fresh frames (a message is encoded once per object: each is new), and to decode them. */
function measure(codec: Codec, make: (i: number) => unknown): { encode: number; decode: number } {
  const frames = Array.from({ length: FRAMES }, (_, i) => make(i));
  const bytes: Uint8Array[] = new Array(FRAMES);
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < FRAMES; i++) bytes[i] = codec.encodeFrame(frames[i]);
  const encode = Number(process.hrtime.bigint() - t0) / FRAMES;
  t0 = process.hrtime.bigint();
  let ok = 0;
  for (let i = 0; i < FRAMES; i++) if (codec.decodeFrame(bytes[i] as Uint8Array, 'fabric').ok) ok++;
  const decode = Number(process.hrtime.bigint() - t0) / FRAMES;
  if (ok !== FRAMES) throw new Error(`${FRAMES - ok} frames refused: ${codec.decodeFrame(bytes[0] as Uint8Array, 'fabric').reason}`);
  return { encode, decode };
}

const results = new Map<string, { encode: number[]; decode: number[]; both: number[] }>();
// warm-up: every codec and frame type, so each is optimised before it is timed
for (const c of codecs) for (const make of Object.values(kinds)) measure(c, make);
for (let round = 0; round < ROUNDS; round++) {
  for (const [ti, c] of codecs.entries()) {
    for (const [k, make] of Object.entries(kinds)) {
      const m = measure(c, make);
      const key = `${k}\t${trees[ti]}`;
      const r = results.get(key) ?? { encode: [], decode: [], both: [] };
      r.encode.push(m.encode);
      r.decode.push(m.decode);
      r.both.push(m.encode + m.decode);
      results.set(key, r);
    }
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const us = (ns: number): string => (ns / 1000).toFixed(2);
console.log(`frame codec, µs per frame (median of ${ROUNDS} rounds of ${FRAMES}; least in brackets)`);
console.log('frame\ttree\tencode\tdecode\tencode+decode\tframe bytes');
for (const [key, r] of results) {
  const [k, tree] = key.split('\t') as [string, string];
  const size = codecs[trees.indexOf(tree)]?.encodeFrame((kinds[k] as (i: number) => unknown)(0)).length;
  console.log(`${k}\t${tree}\t${us(median(r.encode))} (${us(Math.min(...r.encode))})\t${us(median(r.decode))} (${us(Math.min(...r.decode))})\t${us(median(r.both))} (${us(Math.min(...r.both))})\t${size}`);
}
