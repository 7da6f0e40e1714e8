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
import { decodeFrame, encodeFrame, FRAME_SPECS, type FabricMessage, type Frame, type Pulse } from '../../core/cluster/messages.ts';
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

/** JSON-level mutations of a valid frame: drop, null, retype, blow up or deepen one field. */
function mutations(frame: Frame): fc.Arbitrary<Uint8Array> {
  const all = Buffer.from(encodeFrame(frame));
  // a frame with body bytes: its JSON is what the trailer names
  const json = all[all.length - 1] === 0 ? all.subarray(0, all.readUInt32BE(all.length - 5)) : all;
  const plain = JSON.parse(new TextDecoder().decode(json)) as Record<string, unknown>;
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

const validFrames: Frame[] = [
  pulse(),
  msg({ type: 'prepare', n: { round: 5, node: 0xe2n } }),
  msg({ type: 'learn', n: { round: 5, node: 0xe2n }, clusterKey: 0x99n, members: [{ id: 0xe2n, rack: 0, zone: 0 }, { id: 0xe1n, rack: 0, zone: 0 }] }),
  msg({ type: 'accept-nack', n: { round: 5, node: 0xe2n }, reason: 'no' }),
  { t: 'ack', from: 0xe2n, inc: 7, id: 3 },
  { t: 'ack', from: 0xe2n, inc: 7, id: 3, more: [4, 5, 9], refused: 'stale-cluster-key' },
];
/** Data-path messages: their body travels as bytes after the JSON (a trailer gives the JSON's length). */
const bodyFrames: Frame[] = [
  msg({ type: 'request', rid: 9, kind: 'migrate.page', body: Uint8Array.from({ length: 300 }, (_, i) => i % 256) }, { kind: 'migration' }),
  msg({ type: 'reply', rid: 9, ok: false, body: new Uint8Array(0), code: 'TIMEOUT', message: 'no', hint: 'retry' }, { kind: 'proxy' }),
  msg({ type: 'reply', rid: 10, ok: true, body: Uint8Array.from([1, 2, 3]), resultCode: 0, inDoubt: false }, { kind: 'replica-write', acks: { inc: 3, ids: [1, 2, 7] } }),
  msg({ type: 'request', rid: 11, kind: 'replica.write', body: Uint8Array.from([5]) }, { kind: 'replica-write', acks: { inc: 3, ids: [8] } }),
];
const encodedFrames = [...validFrames, ...bodyFrames].map(encodeFrame);
const anyFrameBytes = fc.oneof(
  fc.uint8Array({ maxLength: 400 }),
  fc.uint8Array({ maxLength: 400 }).map((b) => Uint8Array.from([...b, 0])), // ends like a frame with a body
  fc.json({ maxDepth: 4 }).map((s) => new TextEncoder().encode(s)),
  ...validFrames.map(mutations),
  fc.tuple(fc.constantFrom(...encodedFrames), fc.nat(), fc.integer({ min: 0, max: 255 }))
    .map(([b, i, x]) => { const c = Uint8Array.from(b); c[i % c.length] = x; return c; }),
  fc.tuple(fc.constantFrom(...encodedFrames), fc.nat()).map(([b, n]) => b.subarray(0, n % b.length)),
  fc.tuple(fc.constantFrom(...encodedFrames), fc.nat(), fc.nat()).map(([b, at, n]) => Uint8Array.from([...b.subarray(0, at % b.length), ...b.subarray((at % b.length) + (n % 40))])),
);

describe('hostile/cluster frames: the codec is total', () => {
  it('refuses the observed crashers with reasons: a pulse without adjacency, a message with a null body', () => {
    const { adjacency: _a, ...noAdjacency } = pulse();
    const r1 = decodeFrame(text(noAdjacency), 'heartbeat');
    assert.ok(!r1.ok && /adjacency/.test(r1.reason), JSON.stringify(r1));
    const r2 = decodeFrame(text({ ...msg({ type: 'prepare', n: { round: 1, node: 1n } }), body: null }), 'fabric');
    assert.ok(!r2.ok && /unknown type/.test(r2.reason), JSON.stringify(r2));
    const r3 = decodeFrame(encodeFrame(pulse()), 'fabric');
    assert.ok(!r3.ok && /channel/.test(r3.reason));
    for (const f of validFrames) assert.ok(decodeFrame(encodeFrame(f)).ok, `valid ${f.t} frame refused`);
    for (const f of validFrames.filter((x) => x.t === 'ack')) assert.equal(Buffer.from(encodeFrame(f)).toString(), Buffer.from(text(f)).toString());
  });

  it('carries a data-path body as bytes after the JSON, and refuses a body in the JSON or a trailer where none belongs', () => {
    for (const f of bodyFrames) {
      const bytes = encodeFrame(f);
      // the JSON written field by field is the generic encoding's, the body's bytes left out
      const m = f as FabricMessage;
      const generic = text({ ...m, body: { ...m.body, body: undefined } });
      assert.equal(Buffer.from(bytes).subarray(0, generic.length).toString(), Buffer.from(generic).toString());
      assert.match(new TextDecoder().decode(bytes.subarray(0, 30)), /^\{"t":"msg","from":\{"\$n":"226"\}/, 'a frame starts with its JSON');
      const r = decodeFrame(bytes, 'fabric');
      assert.ok(r.ok, r.ok ? '' : r.reason);
      const plain = (x: Frame): unknown => {
        const m = x as FabricMessage & { body: { body: Uint8Array } };
        return { ...m, body: { ...m.body, body: [...m.body.body] } };
      };
      assert.deepEqual(plain(r.frame), plain(f));
    }
    const req = bodyFrames[0] as FabricMessage;
    // the same message with its body inside the JSON (base64, as before): refused, not half-used
    const inJson = decodeFrame(text({ ...req, body: { ...req.body, body: Buffer.from([1, 2]).toString('base64') } }), 'fabric');
    assert.ok(!inJson.ok && /without its body bytes/.test(inJson.reason), JSON.stringify(inJson));
    const withBoth = Buffer.from(encodeFrame(req));
    const jsonLen = withBoth.readUInt32BE(withBoth.length - 5);
    const doubled = Buffer.concat([Buffer.from(text({ ...req, body: { ...req.body, body: 'AQI=' } })), withBoth.subarray(jsonLen)]);
    doubled.writeUInt32BE(doubled.length - (withBoth.length - jsonLen), doubled.length - 5);
    const both = decodeFrame(doubled, 'fabric');
    assert.ok(!both.ok && /body in its JSON/.test(both.reason), JSON.stringify(both));
    const prepare = encodeFrame(validFrames[1] as Frame);
    const trailed = Buffer.concat([prepare, Buffer.from([1, 2, 3]), Buffer.alloc(4), Buffer.from([0])]);
    trailed.writeUInt32BE(prepare.length, trailed.length - 5);
    const r2 = decodeFrame(trailed, 'fabric');
    assert.ok(!r2.ok && /prepare message with a body trailer/.test(r2.reason), JSON.stringify(r2));
    const r3 = decodeFrame(Uint8Array.from([0x7b, 1, 2, 3, 0xff, 0]), 'fabric');
    assert.ok(!r3.ok && /body trailer names/.test(r3.reason), JSON.stringify(r3));
  });

  it('refuses frames over their type\'s size cap, and a node list over the cluster size', () => {
    const big = pulse({ adjacency: Array.from({ length: 300 }, (_, i) => ({ id: BigInt(i + 1), hb: '127.0.0.1:9' })) });
    const r = decodeFrame(encodeFrame(big), 'heartbeat');
    assert.ok(!r.ok && /adjacency/.test(r.reason), JSON.stringify(r));
    const long = msg({ type: 'prepare-nack', n: { round: 1, node: 1n }, reason: 'x'.repeat(5000) });
    const r2 = decodeFrame(encodeFrame(long), 'fabric');
    assert.ok(!r2.ok && /exceeds/.test(r2.reason), JSON.stringify(r2));
    assert.ok(FRAME_SPECS.pulse.maxBytes <= 64 * 1024);
  });

  it(`checks the data path's frames by hand exactly as their schemas do: same frames, same refusals (seed ${SEED})`, () => {
    // mutations of the JSON of the frames the fast checks cover, kept with their body bytes
    const withBody = (f: Frame): fc.Arbitrary<Uint8Array> => {
      const whole = Buffer.from(encodeFrame(f));
      const jsonLength = whole.readUInt32BE(whole.length - 5);
      return mutations(f).map((json) => {
        const out = Buffer.concat([json, whole.subarray(jsonLength)]);
        out.writeUInt32BE(json.length, out.length - 5);
        return out;
      });
    };
    const fastFrames = fc.oneof(
      fc.constantFrom(...encodedFrames),
      ...validFrames.filter((f) => f.t === 'ack').map(mutations),
      ...bodyFrames.map(withBody),
      fc.tuple(fc.constantFrom(...encodedFrames), fc.nat(), fc.integer({ min: 0, max: 255 }))
        .map(([b, i, x]) => { const c = Uint8Array.from(b); c[i % c.length] = x; return c; }),
    );
    let accepted = 0;
    fc.assert(fc.property(fastFrames, (bytes) => {
      const fast = decodeFrame(bytes, 'fabric');
      const schema = decodeFrame(bytes, 'fabric', { schemaOnly: true });
      const plain = (r: typeof fast): unknown => JSON.parse(JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? [...v] : v)));
      assert.deepEqual(plain(fast), plain(schema));
      if (fast.ok) accepted++;
    }), { numRuns: 1500, seed: SEED });
    assert.ok(accepted > 50, `only ${accepted} of the fuzzed frames decoded: the comparison saw too few valid frames`);
    for (const f of [...validFrames, ...bodyFrames]) {
      const r = decodeFrame(encodeFrame(f), 'fabric');
      if (f.t !== 'pulse') assert.ok(r.ok, r.ok ? '' : r.reason);
    }
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
