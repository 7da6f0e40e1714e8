/**
 * Hostile cluster frames. The codec is total (every input decodes or is refused with a reason);
 * forged Paxos messages cannot install invented members; and a real two-node cluster of node
 * processes, fuzzed on its heartbeat and fabric ports with random bytes, random JSON, mutated
 * valid frames, oversized and trickled frames and a connection flood, stays up, keeps serving
 * a client and keeps its membership.
 */
import { strict as assert } from 'node:assert';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { decodeFrame, encodeFrame, maxFrameBytes } from '../../core/cluster/frame-codec.ts';
import { FRAME_SPECS, type FabricAck, type FabricMessage, type Frame, type Pulse } from '../../core/cluster/messages.ts';
import { frameBytes } from '../../core/cluster/tcp-transport.ts';
import { simCluster, ids } from '../cluster/sim-harness.ts';
import { assertServed, startHostileNode, whileServed, type HostileNode } from './harness.ts';
import { until } from '../helpers/until.ts';
import { clusterInfo } from '../helpers/cluster-info.ts';

const SEED = Number(process.env['FUZZ_SEED'] ?? Date.now() % 100000);

// invented node ids (E1, E2): the fuzz exercises the parser, not impersonation of real members
// (peers are not authenticated; forging a real member's heartbeat is the security issue's)
const pulse = (extra: Partial<Pulse> = {}): Pulse => ({
  t: 'pulse', node: 0xe1n, clusterName: 'slipstream', hb: '127.0.0.1:1', fabric: '127.0.0.1:2', service: '', rack: 0, zone: 0,
  state: 'online', clusterKey: 0x1234n, principal: 0xe2n, succession: [0xe2n, 0xe1n], adjacency: [{ id: 0xe2n, hb: '127.0.0.1:3' }], ...extra,
});
const msg = (body: FabricMessage['body'], extra: Partial<FabricMessage> = {}): FabricMessage => ({
  t: 'msg', from: 0xe2n, clusterName: 'slipstream', clusterKey: 0x1234n, inc: 7, id: 1, needsAck: true, kind: 'control', body, ...extra,
});
const text = (f: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(f, (_k, v: unknown) => (typeof v === 'bigint' ? { $n: v.toString() } : v)));

/** JSON-level mutations of a valid JSON frame (a pulse, a clustering message): drop, null, retype, blow up or deepen one field. */
function mutations(frame: Frame): fc.Arbitrary<Uint8Array> {
  const plain = JSON.parse(new TextDecoder().decode(encodeFrame(frame))) as Record<string, unknown>;
  const paths: string[][] = [];
  const walk = (v: unknown, path: string[]): void => {
    paths.push(path);
    if (v !== null && typeof v === 'object') for (const [k, c] of Object.entries(v)) walk(c, [...path, k]);
  };
  walk(plain, []);
  const replacement = fc.oneof(
    fc.constant(undefined), fc.constant(null), fc.integer(), fc.double(), fc.string({ maxLength: 20 }), fc.boolean(),
    fc.constant({ $n: '-1' }), fc.constant({ $n: '99999999999999999999999' }), fc.constant({ $n: 'x' }),
    fc.constant(Array.from({ length: 5000 }, (_, i) => ({ $n: String(i + 1) }))),
    fc.constant('x'.repeat(100_000)), fc.integer({ min: 1, max: 2000 }).map((d) => JSON.parse('['.repeat(d) + ']'.repeat(d)) as unknown),
    fc.constant({ __proto__: { polluted: true } }), fc.constant({ constructor: { prototype: { polluted: true } } }),
  );
  return fc.tuple(fc.constantFrom(...paths.filter((p) => p.length > 0)), replacement).map(([path, rep]) => {
    const copy = JSON.parse(JSON.stringify(plain)) as Record<string, unknown>;
    let at: Record<string, unknown> = copy;
    for (const k of path.slice(0, -1)) at = at[k] as Record<string, unknown>;
    const last = path[path.length - 1] as string;
    if (rep === undefined) delete at[last];
    else at[last] = rep;
    return new TextEncoder().encode(JSON.stringify(copy));
  });
}

/** Frames that travel as JSON: pulses and clustering messages. */
const validFrames: Frame[] = [
  pulse(),
  msg({ type: 'prepare', n: { round: 5, node: 0xe2n } }),
  msg({ type: 'learn', n: { round: 5, node: 0xe2n }, clusterKey: 0x99n, members: [{ id: 0xe2n, rack: 0, zone: 0 }, { id: 0xe1n, rack: 0, zone: 0 }] }),
  msg({ type: 'accept-nack', n: { round: 5, node: 0xe2n }, reason: 'no' }),
];
/** Frames that travel in the binary layout: data-path messages (their body as bytes) and acks. */
const binaryFrames: Frame[] = [
  msg({ type: 'request', rid: 9, kind: 'migrate.page', body: Uint8Array.from({ length: 300 }, (_, i) => i % 256) }, { kind: 'migration' }),
  msg({ type: 'reply', rid: 9, ok: false, body: new Uint8Array(0), code: 'TIMEOUT', message: 'nö', hint: 'retry' }, { kind: 'proxy' }),
  msg({ type: 'reply', rid: -10, ok: true, body: Uint8Array.from([1, 2, 3]), resultCode: 0, inDoubt: false }, { kind: 'replica-write', acks: { inc: -3, ids: [1, 2, 7] } }),
  msg({ type: 'reply', rid: 2 ** 40, ok: false, body: Uint8Array.from([4]), resultCode: 9, inDoubt: true }, { kind: 'xdr', needsAck: false, clusterKey: 0n, id: 2 ** 53 - 1 }),
  msg({ type: 'request', rid: 11, kind: 'batch:replica.write', body: Uint8Array.from([5]) }, { kind: 'replica-write', from: 0xfedc_ba98_7654_3210n, clusterKey: (1n << 64n) - 1n, acks: { inc: 3, ids: [8] } }),
  { t: 'ack', from: 0xe2n, inc: 7, id: 3 },
  { t: 'ack', from: 0xe2n, inc: -7, id: 2 ** 33, more: [4, 5, 9], refused: 'stale-cluster-key' },
];
const encodedFrames = [...validFrames, ...binaryFrames].map(encodeFrame);
const encodedBinary = binaryFrames.map(encodeFrame);
/** Byte-level damage to an encoded frame: one byte changed, cut short, a run of bytes removed. */
const damaged = (encoded: Uint8Array[]): fc.Arbitrary<Uint8Array>[] => [
  fc.tuple(fc.constantFrom(...encoded), fc.nat(), fc.integer({ min: 0, max: 255 }))
    .map(([b, i, x]) => { const c = Uint8Array.from(b); c[i % c.length] = x; return c; }),
  fc.tuple(fc.constantFrom(...encoded), fc.nat()).map(([b, n]) => b.subarray(0, n % b.length)),
  fc.tuple(fc.constantFrom(...encoded), fc.nat(), fc.nat()).map(([b, at, n]) => Uint8Array.from([...b.subarray(0, at % b.length), ...b.subarray((at % b.length) + (n % 40))])),
];
const anyFrameBytes = fc.oneof(
  fc.uint8Array({ maxLength: 400 }),
  fc.uint8Array({ maxLength: 400 }).map((b) => Uint8Array.from([0xf5, ...b])), // starts like a binary message
  fc.uint8Array({ maxLength: 400 }).map((b) => Uint8Array.from([0xf6, ...b])), // starts like a binary ack
  fc.json({ maxDepth: 4 }).map((s) => new TextEncoder().encode(s)),
  ...validFrames.map(mutations),
  ...damaged(encodedFrames),
);

/** A decoded frame in a form deepEqual compares (bigints and bytes spelled out). */
const plain = (v: unknown): unknown => {
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return [...v];
  if (Object.is(v, -0)) return 0; // as JSON, the wire has no negative zero
  if (Array.isArray(v)) return v.map(plain);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, plain(x)]));
};

/** Messages and acks with any values in their fields (in range or not), as a buggy or hostile sender could encode them. */
const anyInt = fc.oneof(
  { arbitrary: fc.nat(), weight: 4 }, fc.integer(), fc.constantFrom(0, -1, 2 ** 31, 2 ** 32, -(2 ** 32), 2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 53, 2 ** 63, -(2 ** 64), 0.5, Number.NaN, Infinity),
  fc.double(), fc.maxSafeInteger(), { arbitrary: fc.maxSafeNat(), weight: 2 },
);
const anyIds = fc.oneof(
  fc.array(anyInt, { maxLength: 6 }), fc.array(fc.maxSafeNat(), { maxLength: 6 }),
  fc.constantFrom(1023, 1024, 1025).map((n) => Array.from({ length: n }, (_, i) => i)),
);
const anyText = (max: number): fc.Arbitrary<string> => fc.oneof(
  fc.string({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 8 }),
  fc.constantFrom(max - 1, max, max + 1).map((n) => 'k'.repeat(n)), fc.constantFrom('ü'.repeat(max), '😀'.repeat(max / 2 + 1)),
);
const anyNode = fc.oneof(fc.constantFrom(0n, 1n, 0xe2n, (1n << 64n) - 1n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
const anyBinaryFrame: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({
    from: anyNode, clusterKey: anyNode, clusterName: anyText(64), inc: anyInt, id: anyInt, needsAck: fc.boolean(),
    kind: fc.constantFrom('replica-write', 'migration', 'xdr', 'proxy', 'control'),
    acks: fc.option(fc.record({ inc: anyInt, ids: anyIds }), { nil: undefined }),
    body: fc.oneof(
      fc.record({ type: fc.constant('request'), rid: anyInt, kind: anyText(64), body: fc.uint8Array({ maxLength: 20 }) }),
      fc.record({
        type: fc.constant('reply'), rid: anyInt, ok: fc.boolean(), body: fc.uint8Array({ maxLength: 20 }),
        code: fc.option(anyText(64), { nil: undefined }), resultCode: fc.option(anyInt, { nil: undefined }),
        message: fc.option(anyText(64 * 1024), { nil: undefined }), hint: fc.option(anyText(64 * 1024), { nil: undefined }),
        inDoubt: fc.option(fc.boolean(), { nil: undefined }),
      }, { requiredKeys: ['type', 'rid', 'ok', 'body'] }),
    ),
  }, { requiredKeys: ['from', 'clusterKey', 'clusterName', 'inc', 'id', 'needsAck', 'kind', 'body'] }).map((m) => ({ t: 'msg', ...m }) as FabricMessage),
  fc.record({
    from: anyNode, inc: anyInt, id: anyInt, more: fc.option(anyIds, { nil: undefined }), refused: fc.option(fc.constant('stale-cluster-key' as const), { nil: undefined }),
  }, { requiredKeys: ['from', 'inc', 'id'] }).map((a) => ({ t: 'ack', ...a }) as FabricAck),
);

/** Offsets in a binary message: the cluster name's length is at 17; what follows it, from its end. */
function layout(bytes: Uint8Array): { nameEnd: number } {
  return { nameEnd: 21 + Buffer.from(bytes).readUInt32BE(17) };
}

describe('hostile/cluster frames: the codec is total', () => {
  it('refuses the observed crashers with reasons: a pulse without adjacency, a message with a null body', () => {
    const { adjacency: _a, ...noAdjacency } = pulse();
    const r1 = decodeFrame(text(noAdjacency), 'heartbeat');
    assert.ok(!r1.ok && /adjacency/.test(r1.reason), JSON.stringify(r1));
    const r2 = decodeFrame(text({ ...msg({ type: 'prepare', n: { round: 1, node: 1n } }), body: null }), 'fabric');
    assert.ok(!r2.ok && /unknown type/.test(r2.reason), JSON.stringify(r2));
    const r3 = decodeFrame(encodeFrame(pulse()), 'fabric');
    assert.ok(!r3.ok && /channel/.test(r3.reason));
    for (const f of [...validFrames, ...binaryFrames]) assert.ok(decodeFrame(encodeFrame(f)).ok, `valid ${f.t} frame refused`);
    for (const f of validFrames) assert.equal(Buffer.from(encodeFrame(f)).toString(), Buffer.from(text(f)).toString(), 'pulses and clustering messages are JSON');
  });

  it('carries data-path messages and acks in the binary layout, exactly, and refuses them in JSON or on the heartbeat channel', () => {
    for (const f of binaryFrames) {
      const bytes = Buffer.from(encodeFrame(f));
      // a byte no UTF-8 text starts with, then the sender, where relays read it
      assert.equal(bytes[0], f.t === 'ack' ? 0xf6 : 0xf5);
      assert.equal(bytes.readBigUInt64BE(1), (f as FabricMessage | FabricAck).from);
      const r = decodeFrame(bytes, 'fabric');
      assert.ok(r.ok, r.ok ? '' : r.reason);
      assert.deepEqual(plain(r.frame), plain(f));
      const schema = decodeFrame(bytes, 'fabric', { schemaOnly: true });
      assert.deepEqual(plain(schema), plain(r));
      const hb = decodeFrame(bytes, 'heartbeat');
      assert.ok(!hb.ok && new RegExp(`a ${f.t} frame on the heartbeat channel`).test(hb.reason), JSON.stringify(hb));
    }
    // the body is the frame's own bytes after the envelope: a view, not a copy
    const req = binaryFrames[0] as FabricMessage & { body: { body: Uint8Array } };
    const bytes = encodeFrame(req);
    const r = decodeFrame(bytes, 'fabric');
    assert.ok(r.ok && r.frame.t === 'msg' && r.frame.body.type === 'request' && r.frame.body.body.buffer === bytes.buffer);
    // the same messages in JSON (the body inside, base64, or left out): refused, not half-used
    const inJson = decodeFrame(text({ ...req, body: { ...req.body, body: Buffer.from([1, 2]).toString('base64') } }), 'fabric');
    assert.ok(!inJson.ok && /request message in JSON/.test(inJson.reason), JSON.stringify(inJson));
    const noBody = decodeFrame(text({ ...req, body: { ...req.body, body: undefined } }), 'fabric');
    assert.ok(!noBody.ok && /request message in JSON/.test(noBody.reason), JSON.stringify(noBody));
    const ackJson = decodeFrame(text(binaryFrames[5]), 'fabric');
    assert.ok(!ackJson.ok && /ack frame in JSON/.test(ackJson.reason), JSON.stringify(ackJson));
    // a JSON frame is never read as binary, nor a binary one as JSON
    assert.equal(Buffer.from(encodeFrame(validFrames[1] as Frame))[0], 0x7b);
  });

  it('refuses every truncation, trailing bytes, wrong lengths, oversize counts, unknown kinds and flags, and text that is not UTF-8', () => {
    const refused = (bytes: Uint8Array, why: RegExp, what: string): void => {
      const r = decodeFrame(bytes, 'fabric');
      assert.ok(!r.ok && why.test(r.reason), `${what}: ${JSON.stringify(r)}`);
      const s = decodeFrame(bytes, 'fabric', { schemaOnly: true });
      assert.deepEqual(s, r, `${what}: the schema path refuses it alike`);
    };
    for (const [i, f] of binaryFrames.entries()) {
      const bytes = Buffer.from(encodeFrame(f));
      // cut at every offset: refused as truncated (the empty frame is not JSON either)
      for (let n = 1; n < bytes.length; n++) refused(bytes.subarray(0, n), /truncated at byte \d+/, `frame ${i} cut to ${n} bytes`);
      refused(bytes.subarray(0, 0), /not a JSON frame/, 'an empty frame');
      for (const extra of [[0], [1, 2, 3], Array.from({ length: 100 }, () => 0)]) {
        refused(Buffer.concat([bytes, Buffer.from(extra)]), /bytes after the end of the (message|ack)/, `frame ${i} with ${extra.length} trailing bytes`);
      }
    }
    const req = Buffer.from(encodeFrame(binaryFrames[0] as Frame));
    // lengths: the cluster name's and the body's, each off by one, or huge (nothing allocated for it)
    for (const [at, why] of [[17, /truncated|not UTF-8|schema/], [req.length - 304, /truncated|after the end/]] as const) {
      const len = req.readUInt32BE(at);
      for (const wrong of [len - 1, len + 1, 0x7fff_ffff, 0xffff_ffff]) {
        const c = Buffer.from(req);
        c.writeUInt32BE(wrong, at);
        const r = decodeFrame(c, 'fabric');
        assert.ok(!r.ok && why.test(r.reason), `length ${wrong} at ${at}: ${JSON.stringify(r)}`);
      }
    }
    const { nameEnd } = layout(req);
    // unknown fabric kinds and message flags
    for (const code of [5, 6, 0x7f, 0xff]) {
      const c = Buffer.from(req);
      c[nameEnd + 16] = code;
      refused(c, new RegExp(`unknown fabric kind code ${code}`), `kind ${code}`);
    }
    for (const bit of [8, 16, 32, 64, 128]) {
      const c = Buffer.from(req);
      c[nameEnd + 17] = (c[nameEnd + 17] as number) | bit;
      refused(c, /unknown message flags/, `message flag ${bit}`);
    }
    // the acks flag without acks, a request flagged as a reply: read as the layout says, then refused
    const plainReq = Buffer.from(encodeFrame(msg({ type: 'request', rid: 1, kind: 'k', body: Uint8Array.from([1]) }, { kind: 'proxy' })));
    const p = layout(plainReq).nameEnd;
    const withAcksFlag = Buffer.from(plainReq);
    withAcksFlag[p + 17] = (withAcksFlag[p + 17] as number) | 2;
    assert.ok(!decodeFrame(withAcksFlag, 'fabric').ok, 'acks flagged but absent');
    const asReply = Buffer.from(plainReq);
    asReply[p + 17] = (asReply[p + 17] as number) | 4;
    assert.ok(!decodeFrame(asReply, 'fabric').ok, 'a request flagged as a reply');
    // reply flags: the unknown bit, and "in doubt: true" without "in doubt"
    const reply = Buffer.from(encodeFrame(msg({ type: 'reply', rid: 1, ok: true, body: Uint8Array.from([1]) }, { kind: 'proxy' })));
    const q = layout(reply).nameEnd + 18 + 8;
    for (const flags of [128, 64, 64 | 1]) {
      const c = Buffer.from(reply);
      c[q] = flags;
      refused(c, /unknown reply flags/, `reply flags ${flags}`);
    }
    // ack flags, an ack of nothing, a count that claims more ids than there are bytes
    const ack = Buffer.from(encodeFrame(binaryFrames[6] as Frame));
    for (const bit of [2, 4, 128]) {
      const c = Buffer.from(ack);
      c[17] = bit;
      refused(c, /unknown ack flags/, `ack flag ${bit}`);
    }
    const none = Buffer.from(ack.subarray(0, 22));
    none.writeUInt32BE(0, 18);
    refused(none, /acknowledging nothing/, 'an ack of no ids');
    for (const count of [5, 1 << 20, 0xffff_ffff]) {
      const c = Buffer.from(ack);
      c.writeUInt32BE(count, 18);
      refused(c, new RegExp(`truncated at byte 22: acks needs ${count * 8} bytes`), `ack count ${count}`);
    }
    // more ids than a frame may carry: read, then refused by the limits
    const many = encodeFrame({ t: 'ack', from: 0xe2n, inc: 1, id: 1, more: Array.from({ length: 1024 }, (_, i) => i) });
    refused(many, /more/, 'an ack of 1025 ids');
    const manyAcks = encodeFrame(msg({ type: 'request', rid: 1, kind: 'k', body: new Uint8Array(0) }, { kind: 'proxy', acks: { inc: 1, ids: Array.from({ length: 1025 }, (_, i) => i) } }));
    refused(manyAcks, /acks\.ids/, 'a message with 1025 acks');
    assert.ok(decodeFrame(encodeFrame({ t: 'ack', from: 0xe2n, inc: 1, id: 1, more: Array.from({ length: 1023 }, (_, i) => i) }), 'fabric').ok, '1024 ids are allowed');
    // text that is not UTF-8: the cluster name, a reply's message
    const badName = Buffer.from(req);
    badName[21] = 0xff;
    refused(badName, /cluster name is not UTF-8/, 'a cluster name of invalid UTF-8');
    // text caps, each at its cap (taken) and one over (refused): kind, cluster name, a reply's code, message and hint
    const request = (kind: string, clusterName = 'slipstream'): Uint8Array => encodeFrame(msg({ type: 'request', rid: 1, kind, body: new Uint8Array(0) }, { kind: 'proxy', clusterName }));
    const failed = (fields: Partial<Record<'code' | 'message' | 'hint', string>>): Uint8Array => encodeFrame(msg({ type: 'reply', rid: 1, ok: false, body: new Uint8Array(0), ...fields }, { kind: 'proxy' }));
    const caps: [string, (text: string) => Uint8Array, number][] = [
      ['kind', (t) => request(t), 64], ['clusterName', (t) => request('k', t), 64],
      ['code', (t) => failed({ code: t }), 64], ['message', (t) => failed({ message: t }), 64 * 1024], ['hint', (t) => failed({ hint: t }), 64 * 1024],
    ];
    for (const [field, frame, cap] of caps) {
      assert.ok(decodeFrame(frame('é'.repeat(cap)), 'fabric').ok, `${field} of ${cap} characters refused`);
      refused(frame('é'.repeat(cap + 1)), new RegExp(field), `${field} of ${cap + 1} characters`);
    }
    // values a sender could not mean: not safe integers, a sender of 0
    refused(encodeFrame(msg({ type: 'request', rid: 0.5, kind: 'k', body: new Uint8Array(0) }, { kind: 'proxy' })), /rid/, 'a fractional rid');
    refused(encodeFrame(msg({ type: 'request', rid: 1, kind: 'k', body: new Uint8Array(0) }, { kind: 'proxy', id: -1 })), /at id/, 'a negative id');
    refused(encodeFrame(msg({ type: 'request', rid: 1, kind: 'k', body: new Uint8Array(0) }, { kind: 'proxy', inc: Number.NaN })), /at inc/, 'an incarnation of NaN');
    refused(encodeFrame(msg({ type: 'request', rid: 1, kind: 'k', body: new Uint8Array(0) }, { kind: 'proxy', from: 0n })), /at from/, 'a sender of 0');
    refused(encodeFrame(msg({ type: 'request', rid: 1, kind: 'k', body: new Uint8Array(0) }, { kind: 'proxy', from: 1n << 64n })), /at from/, 'a sender over 64 bits');
  });

  it('refuses frames over their type\'s size cap, and a node list over the cluster size', () => {
    const big = pulse({ adjacency: Array.from({ length: 300 }, (_, i) => ({ id: BigInt(i + 1), hb: '127.0.0.1:9' })) });
    const r = decodeFrame(encodeFrame(big), 'heartbeat');
    assert.ok(!r.ok && /adjacency/.test(r.reason), JSON.stringify(r));
    const long = msg({ type: 'prepare-nack', n: { round: 1, node: 1n }, reason: 'x'.repeat(5000) });
    const r2 = decodeFrame(encodeFrame(long), 'fabric');
    assert.ok(!r2.ok && /exceeds/.test(r2.reason), JSON.stringify(r2));
    assert.ok(FRAME_SPECS.pulse.maxBytes <= 64 * 1024);
    // an ack frame over 32 KiB (4,100 ids), a message over the data path's cap
    const r3 = decodeFrame(encodeFrame({ t: 'ack', from: 0xe2n, inc: 1, id: 1, more: Array.from({ length: 4100 }, (_, i) => i) }), 'fabric');
    assert.ok(!r3.ok && /ack frame of \d+ bytes exceeds 32768/.test(r3.reason), JSON.stringify(r3));
    const huge = encodeFrame(msg({ type: 'request', rid: 1, kind: 'k', body: new Uint8Array(24 * 1024 * 1024 + 1) }, { kind: 'migration' }));
    const r4 = decodeFrame(huge, 'fabric');
    assert.ok(!r4.ok && /body/.test(r4.reason), JSON.stringify(r4).slice(0, 300));
    assert.equal(maxFrameBytes('fabric'), 24 * 1024 * 1024 + 1024);
    assert.equal(maxFrameBytes('heartbeat'), 64 * 1024);
    assert.equal(maxFrameBytes(undefined), 24 * 1024 * 1024 + 1024);
  });

  it(`checks the data path's frames by hand exactly as their schemas do: same frames, same refusals (seed ${SEED})`, () => {
    const fastFrames = fc.oneof(
      fc.constantFrom(...encodedBinary),
      anyBinaryFrame.map(encodeFrame),
      ...damaged(encodedBinary),
    );
    let accepted = 0;
    let refusedBySchema = 0;
    fc.assert(fc.property(fastFrames, (bytes) => {
      const fast = decodeFrame(bytes, 'fabric');
      const schema = decodeFrame(bytes, 'fabric', { schemaOnly: true });
      assert.deepEqual(plain(fast), plain(schema));
      if (fast.ok) accepted++;
      else if (/schema/.test(fast.reason)) refusedBySchema++;
    }), { numRuns: 2500, seed: SEED });
    assert.ok(accepted > 200, `only ${accepted} of the fuzzed frames decoded: the comparison saw too few valid frames`);
    assert.ok(refusedBySchema > 200, `only ${refusedBySchema} of the fuzzed frames were refused by their values: the comparison saw too few`);
    // what a sender encodes with values in range is what the receiver decodes (an empty `more` is no `more`)
    fc.assert(fc.property(anyBinaryFrame, (f) => {
      const r = decodeFrame(encodeFrame(f), 'fabric');
      const sent = f.t === 'ack' && f.more?.length === 0 ? { ...f, more: undefined } : f;
      if (r.ok) assert.deepEqual(plain(r.frame), plain(sent));
    }), { numRuns: 1000, seed: SEED });
  });

  it(`never throws on random bytes, random JSON and mutated valid frames (seed ${SEED})`, () => {
    fc.assert(fc.property(anyFrameBytes, fc.constantFrom('heartbeat', 'fabric', undefined), (bytes, channel) => {
      const r = decodeFrame(bytes, channel as 'heartbeat' | 'fabric' | undefined);
      assert.equal(typeof r.ok, 'boolean');
      if (!r.ok) assert.ok(r.reason.length > 0 && r.reason.length <= 301);
      assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    }), {
      numRuns: 3000, seed: SEED,
      reporter: (out) => {
        if (!out.failed) return;
        const [bytes] = out.counterexample ?? [];
        throw new Error(`seed ${SEED}: decodeFrame failed on ${new TextDecoder().decode((bytes as Uint8Array).subarray(0, 300))}…: ${String(out.errorInstance)}`);
      },
    });
  });
});

describe('hostile/cluster frames: forged Paxos messages (simulated network)', () => {
  it('a forged LEARN or ACCEPT naming invented nodes does not change the membership', async () => {
    const nodes = ids(0x30, 0x20, 0x10);
    const c = simCluster(11, nodes.map((id) => ({ id })));
    try {
      for (const id of nodes) await c.start(id);
      assert.ok(c.converge() >= 0);
      const before = c.services.get(0x10n)?.view();
      const evil = c.net.factory('evil')('fabric');
      const fake = [{ id: 0x30n, rack: 0, zone: 0 }, { id: 0x20n, rack: 0, zone: 0 }, { id: 0x10n, rack: 0, zone: 0 }, { id: 0xeen, rack: 0, zone: 0 }];
      const n = { round: c.clock.now() + 1_000_000, node: 0x30n };
      for (const id of nodes) {
        const to = c.services.get(id)?.addresses().fabric as string;
        // LEARN alone, as the principal, with an invented member
        evil.send(to, msg({ type: 'learn', n, clusterKey: 0xbadn, members: fake }, { from: 0x30n, inc: 1, id: 1 }));
        // ACCEPT then LEARN, as the principal
        evil.send(to, msg({ type: 'accept', n: { ...n, round: n.round + 1 }, clusterKey: 0xbad2n, members: fake }, { from: 0x30n, inc: 1, id: 2 }));
        evil.send(to, msg({ type: 'learn', n: { ...n, round: n.round + 1 }, clusterKey: 0xbad2n, members: fake }, { from: 0x30n, inc: 1, id: 3 }));
        // as an invented node
        evil.send(to, msg({ type: 'learn', n: { round: n.round + 2, node: 0xeen }, clusterKey: 0xbad3n, members: [...fake, { id: 0xffn, rack: 0, zone: 0 }] }, { from: 0xffn, inc: 1, id: 4 }));
      }
      c.clock.advance(3000);
      for (const id of nodes) {
        const v = c.services.get(id)?.view();
        assert.deepEqual(v?.succession.map((m) => m.id), [0x30n, 0x20n, 0x10n], `node ${id.toString(16)} membership`);
        assert.notEqual(v?.clusterKey, 0xbadn);
        assert.notEqual(v?.clusterKey, 0xbad2n);
        assert.notEqual(v?.clusterKey, 0xbad3n);
      }
      assert.equal(before?.clusterKey, c.services.get(0x10n)?.view()?.clusterKey, 'the cluster did not even re-form');
      // a PREPARE (as the principal) numbered far ahead would block every later proposal: refused
      for (const id of nodes) {
        evil.send(c.services.get(id)?.addresses().fabric as string, msg({ type: 'prepare', n: { round: c.clock.now() + 1e12, node: 0x30n } }, { from: 0x30n, inc: 1, id: 5 }));
      }
      c.clock.advance(500);
      await c.kill(0x10n);
      assert.ok(c.converge() >= 0, 'the cluster no longer re-forms');
      assert.deepEqual(c.services.get(0x20n)?.view()?.succession.map((m) => m.id), [0x30n, 0x20n]);
      assert.deepEqual(c.violations, []);
      await evil.close();
    } finally {
      await c.stopAll();
    }
  });
});

function dial(address: string): Promise<Socket> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const s = connect({ host, port: Number(port) }, () => resolve(s));
    s.on('error', reject);
  });
}

function lengthPrefixed(payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(4 + payload.length);
  b.writeUInt32BE(payload.length, 0);
  b.set(payload, 4);
  return b;
}

const closed = (s: Socket, ms: number): Promise<boolean> => new Promise((resolve) => {
  if (s.destroyed) return resolve(true);
  const t = setTimeout(() => resolve(false), ms);
  s.once('close', () => { clearTimeout(t); resolve(true); });
});

describe('hostile/cluster frames: a real two-node cluster under fuzz', function () {
  this.timeout(120_000);
  const nodes: HostileNode[] = [];
  after(async () => { for (const n of nodes) await n.stop(); });

  it(`stays up, serves a client and keeps its membership (seed ${SEED})`, async () => {
    const cluster = (seeds: string[]) => ({
      node: { metricsPort: 0 },
      cluster: { heartbeat: { address: '127.0.0.1:0', intervalMs: 150, timeout: 20 }, fabric: { address: '127.0.0.1:0' }, seeds },
    });
    const a = await startHostileNode(cluster([]), 'A2');
    nodes.push(a);
    const seed = (await clusterInfo(a.port)).members[0]?.heartbeatAddress as string;
    const b = await startHostileNode(cluster([seed]), 'A1');
    nodes.push(b);
    const formed = await until('two-node cluster', async () => {
      const rs = await Promise.all([a, b].map((n) => clusterInfo(n.port)));
      return rs.every((r) => r.members.map((m) => m.nodeId).join() === 'A2,A1' && r.state === 'online' && r.clusterKey === rs[0]?.clusterKey) ? rs[0] : undefined;
    }, 30_000);
    const targets = formed.members.flatMap((m) => [{ ch: 'heartbeat' as const, addr: m.heartbeatAddress }, { ch: 'fabric' as const, addr: m.fabricAddress }]);
    const seen = new Set<string>();
    const watch = setInterval(() => {
      for (const n of [a, b]) clusterInfo(n.port).then((r) => { for (const m of r.members) seen.add(m.nodeId); }, () => {});
    }, 200);

    const rnd = fc.sample(anyFrameBytes, { numRuns: 1500, seed: SEED });
    const { served } = await whileServed('cluster fuzz', b, async () => {
      const t0 = performance.now();
      const socks = await Promise.all(targets.map((t) => dial(t.addr)));
      // the observed crashers and the forged LEARN, then random and mutated frames
      const forged = msg({ type: 'learn', n: { round: Date.now() * 2, node: 0xa2n }, clusterKey: 0xbadn, members: [{ id: 0xa2n, rack: 0, zone: 0 }, { id: 0xa1n, rack: 0, zone: 0 }, { id: 0xeen, rack: 0, zone: 0 }] }, { from: 0xa2n, inc: 99, id: 1 });
      // a PREPARE numbered far in the future would block every later proposal
      const farPrepare = msg({ type: 'prepare', n: { round: Date.now() * 2, node: 0xa2n } }, { from: 0xa2n, inc: 99, id: 2 });
      const { adjacency: _x, ...noAdjacency } = pulse({ node: 0xe1n });
      for (const [i, s] of socks.entries()) {
        const ch = targets[i]?.ch;
        s.write(ch === 'heartbeat' ? lengthPrefixed(text(noAdjacency)) : lengthPrefixed(text({ ...forged, body: null })));
        if (ch === 'fabric') s.write(Buffer.concat([frameBytes(forged), frameBytes(farPrepare)]));
      }
      for (let i = 0; i < rnd.length; i++) {
        const s = socks[i % socks.length] as Socket;
        if (!s.destroyed) s.write(lengthPrefixed(rnd[i] as Uint8Array));
        if (i % 100 === 0) await new Promise((r) => setTimeout(r, 10));
      }
      console.log(`      fuzz frames sent at +${Math.round(performance.now() - t0)} ms`);
      // a 60 MiB frame announced and trickled: refused by its length, the connection closed
      const trickle = await dial(targets[0]?.addr as string);
      trickle.write(Buffer.from([0x03, 0xc0, 0x00, 0x00, 0x7b]));
      assert.ok(await closed(trickle, 10_000), 'an oversized frame kept its connection');
      // a connection flood: beyond the cap, connections are closed at once
      const flood = await Promise.all(Array.from({ length: 300 }, () => dial(targets[1]?.addr as string).catch(() => undefined)));
      const shut = await Promise.all(flood.map((s) => (s === undefined ? true : closed(s, 3000))));
      assert.ok(shut.filter(Boolean).length >= 300 - 256 - 2, `only ${shut.filter(Boolean).length} of 300 flood connections were refused`);
      console.log(`      oversize and flood done at +${Math.round(performance.now() - t0)} ms`);
      for (const s of [...flood, ...socks]) s?.destroy();
    });
    clearInterval(watch);
    a.assertAlive();
    b.assertAlive();
    assertServed(served, { maxRssMiB: 600 });
    assert.deepEqual([...seen].filter((id) => id !== 'A1' && id !== 'A2'), [], 'an invented node became a member');
    await until('the cluster intact after the fuzz', async () => {
      const rs = await Promise.all([a, b].map((n) => clusterInfo(n.port)));
      return rs.every((r) => r.members.map((m) => m.nodeId).join() === 'A2,A1' && r.state === 'online' && r.clusterKey === rs[0]?.clusterKey) ? rs : undefined;
    }, 30_000);
    const metrics = await (await fetch(`http://127.0.0.1:${a.proc.metricsPort}/metrics`)).text();
    const dropped = [...metrics.matchAll(/^slipstream_cluster_frames_dropped\{channel="(\w+)"\} (\d+)$/gm)].map((m) => Number(m[2]));
    assert.ok(dropped.length === 2 && dropped.every((d) => d > 0), `dropped frames not counted:\n${metrics.split('\n').filter((l) => l.includes('frames_dropped')).join('\n')}`);
  });
});
