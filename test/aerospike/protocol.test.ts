/**
 * The Aerospike protocol at the byte level, on the node's shared port: captured client bytes,
 * info, admin, bad frames (version, type, size, truncated, malformed fields), idle timeouts,
 * and a fuzz of random and mutated frames after which the node still serves both protocols.
 */
import { strict as assert } from 'node:assert';
import { connect, createServer, type Server, type Socket } from 'node:net';
import fc from 'fast-check';
import { startTestNode, type TestNode } from '../helpers/node-harness.ts';
import { AerospikeFrontEnd } from '../../core/server/aerospike/front-end.ts';
import { VERSION } from '../../core/node/version.ts';
import { UDF_ENGINE_KEY } from '../../core/services/keys.ts';
import { SENT } from '../../core/server/aerospike/connection.ts';
import { waitingDeadlines } from '../../core/server/aerospike/deadline.ts';

const SEED = Number(process.env['FUZZ_SEED'] ?? Date.now() % 100000);

function frame(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 2;
  h[1] = type;
  h.writeUIntBE(body.length, 2, 6);
  return Buffer.concat([h, body]);
}

function field(type: number, data: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(data.length + 1, 0);
  h[4] = type;
  return Buffer.concat([h, data]);
}

function op(code: number, particle: number, name: string, value: Buffer = Buffer.alloc(0)): Buffer {
  const n = Buffer.from(name);
  const h = Buffer.alloc(8);
  h.writeUInt32BE(4 + n.length + value.length, 0);
  h[4] = code;
  h[5] = particle;
  h[7] = n.length;
  return Buffer.concat([h, n, value]);
}

function msg(info: [number, number, number], fields: Buffer[], ops: Buffer[], ttl = 0, timeoutMs = 1000): Buffer {
  const h = Buffer.alloc(22);
  h[0] = 22;
  [h[1], h[2], h[3]] = info;
  h.writeUInt32BE(ttl, 10);
  h.writeUInt32BE(timeoutMs, 14);
  h.writeUInt16BE(fields.length, 18);
  h.writeUInt16BE(ops.length, 20);
  return frame(3, Buffer.concat([h, ...fields, ...ops]));
}

/** A socket that reads whole frames. */
class Conn {
  readonly socket: Socket;
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;
  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.wake(); });
    this.socket.on('close', () => { this.closed = true; this.wake(); });
    this.socket.on('error', () => undefined);
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  send(b: Buffer): void {
    this.socket.write(b);
  }
  /** The next whole frame: [type, body]; undefined when the connection closed first. */
  async read(timeoutMs = 10_000): Promise<[number, Buffer] | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buf.length >= 8) {
        const size = this.buf.readUIntBE(2, 6);
        if (this.buf.length >= 8 + size) {
          const out: [number, Buffer] = [this.buf[1] as number, this.buf.subarray(8, 8 + size)];
          this.buf = this.buf.subarray(8 + size);
          return out;
        }
      }
      if (this.closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no answer in time');
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('the connection stayed open');
      await new Promise<void>((r) => { const t = setTimeout(r, 50); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }
  close(): void {
    this.socket.destroy();
  }
}

async function info(port: number, text: string): Promise<string> {
  const c = new Conn(port);
  try {
    c.send(frame(1, Buffer.from(text)));
    const r = await c.read();
    assert.ok(r !== undefined);
    assert.equal(r[0], 1);
    return r[1].toString();
  } finally {
    c.close();
  }
}

// The put, get and remove the npm client sent (the reference's capture), byte for byte.
const NS = field(0, Buffer.from('test'));
const SET = field(1, Buffer.from('demo'));
const DIGEST = field(4, Buffer.from('3bd475bd0c73f210b67ea83793300eeae576285d', 'hex'));
const CAPTURED_PUT = Buffer.from([
  '02030000000000' + '9a',
  '160001000000' + '00000000' + '00000000' + '000003e8' + '0003' + '0006',
  '00000005' + '00' + '74657374',
  '00000005' + '01' + '64656d6f',
  '00000015' + '04' + '3bd475bd0c73f210b67ea83793300eeae576285d',
  '0000000d' + '0201000169' + '000000000000002a',
  '00000008' + '0203000173' + '616263',
  '0000000d' + '0202000166' + '3ff8000000000000',
  '00000007' + '0204000162' + '0102',
  '0000000a' + '021400016c' + '9201a20378',
  '0000000e' + '021300016d' + '82c70001c0a2036101',
].join(''), 'hex');
const BATCH_ROW = Buffer.concat([
  Buffer.from('00000001' + '08' + '00000000' + '3bd475bd0c73f210b67ea83793300eeae576285d' + '0a' + '030000' + '00000000' + '0002' + '0000', 'hex'), NS, SET,
]);

describe('Aerospike protocol: bytes on the shared port', function () {
  this.timeout(120_000);
  let t: TestNode;
  let port: number;

  before(async () => {
    t = await startTestNode();
    port = t.node.port;
  });
  after(async () => { await t.stop(); });

  it('answers the npm client\'s captured put and get with the captured answers', async () => {
    const c = new Conn(port);
    try {
      c.send(CAPTURED_PUT);
      const put = await c.read();
      assert.ok(put !== undefined);
      assert.equal(put[0], 3);
      assert.equal(put[1].length, 22);
      assert.equal(put[1][5], 0, 'result OK');
      assert.equal(put[1].readUInt32BE(6), 1, 'generation 1');
      c.send(msg([0x03, 0, 0], [NS, SET, DIGEST], []));
      const get = await c.read();
      assert.ok(get !== undefined);
      const body = get[1];
      assert.equal(body[5], 0);
      assert.equal(body.readUInt16BE(20), 6, 'six bins');
      assert.ok(body.includes(Buffer.from('0000000d0101000169000000000000002a', 'hex')), 'i = 42 as the captured answer has it');
      c.send(msg([0, 0x03, 0], [NS, SET, DIGEST], []));
      assert.equal((await c.read())?.[1][5], 0, 'removed');
      c.send(msg([0x03, 0, 0], [NS, SET, DIGEST], []));
      assert.equal((await c.read())?.[1][5], 2, 'then NOT_FOUND');
    } finally {
      c.close();
    }
  });

  it('answers info lines in order, echoing each; errors in Aerospike\'s form', async () => {
    const text = await info(port, 'node\nbuild\nnope\nnamespace/none\n');
    assert.equal(text, 'node\tA1\nbuild\t8.1.0.0\nnope\tERROR:4:unrecognized command\nnamespace/none\ttype=unknown\n');
    const peers = await info(port, 'peers-clear-std\npartition-generation\n');
    assert.equal(peers, `peers-clear-std\t1,${port},[]\npartition-generation\t1\n`);
    assert.match(await info(port, `version\n`), new RegExp(`Slipstream ${VERSION.replace(/\./g, '\\.')}`));
  });

  it('set-config as asinfo sends it changes dynamic settings live; get-config shows them; bad changes are errors', async () => {
    assert.equal(await info(port, 'set-config:context=namespace;id=test;default-ttl=3600;max-record-size=500000\n'), 'set-config:context=namespace;id=test;default-ttl=3600;max-record-size=500000\tok\n');
    assert.match(await info(port, 'get-config:context=namespace;id=test\n'), /default-ttl=3600;.*max-record-size=500000;/);
    assert.equal((await t.client.put({ namespace: 'test', set: 'cfg', key: 'k' }, { v: 1n })).ttl > 3500, true, 'the next write takes the new default TTL');
    assert.equal(await info(port, 'set-config:context=slipstream;udf.maxTimeoutMs=15000\n'), 'set-config:context=slipstream;udf.maxTimeoutMs=15000\tok\n');
    assert.match(await info(port, 'set-config:context=namespace;id=test;replication-factor=3\n'), /\tERROR:4:namespace setting 'replication-factor' cannot change while the node runs\n$/);
    assert.match(await info(port, 'set-config:context=namespace;id=test;default-ttl=-1\n'), /\tERROR:4:the change is not valid: .*defaultTtl/);
    assert.match(await info(port, 'set-config:context=nope;x=1\n'), /\tERROR:4:set-config context 'nope' is not known\n$/);
    await t.client.setConfig({ 'namespaces.test.defaultTtl': 0, 'namespaces.test.maxRecordBytes': 1048576 });
  });

  it('answers every admin message with SECURITY_NOT_ENABLED (52)', async () => {
    const c = new Conn(port);
    try {
      const login = Buffer.concat([Buffer.from([0, 0, 20, 2]), Buffer.alloc(12), field(0, Buffer.from('admin')), field(3, Buffer.from('x'.repeat(60)))]);
      c.send(frame(2, login));
      const r = await c.read();
      assert.ok(r !== undefined);
      assert.equal(r[0], 2);
      assert.equal(r[1].length, 16);
      assert.equal(r[1][1], 52);
    } finally {
      c.close();
    }
  });

  it('answers malformed messages with PARAMETER (4) and keeps the connection; refuses unknown operations and particle types', async () => {
    const c = new Conn(port);
    try {
      // a field that claims more bytes than the message has
      const bad = Buffer.concat([msg([0x03, 0, 0], [NS], []).subarray(0, 8 + 22), Buffer.from('000000ff00', 'hex')]);
      bad.writeUIntBE(bad.length - 8, 2, 6);
      bad.writeUInt16BE(1, 8 + 18);
      c.send(bad);
      assert.equal((await c.read())?.[1][5], 4);
      c.send(msg([0, 0x01, 0], [NS, SET, DIGEST], [op(99, 1, 'a', Buffer.alloc(8))]));
      assert.equal((await c.read())?.[1][5], 4);
      c.send(msg([0, 0x01, 0], [NS, SET, DIGEST], [op(2, 99, 'a', Buffer.alloc(8))]));
      assert.equal((await c.read())?.[1][5], 4);
      c.send(msg([0, 0x01, 0], [NS, SET, DIGEST], [op(2, 1, 'x'.repeat(16), Buffer.alloc(8))]));
      assert.equal((await c.read())?.[1][5], 21, 'bin name too long');
      c.send(msg([0, 0x01, 0], [NS, SET, DIGEST], [op(2, 1, 'a', Buffer.alloc(8))], 0xfffffff0));
      assert.equal((await c.read())?.[1][5], 4, 'TTL out of range');
      c.send(msg([0x03, 0, 0], [field(0, Buffer.from('nope')), SET, DIGEST], []));
      assert.equal((await c.read())?.[1][5], 20, 'unknown namespace');
      c.send(msg([0x03, 0, 0], [NS, SET, DIGEST], []));
      assert.equal((await c.read())?.[1][5], 2, 'the connection still works');
    } finally {
      c.close();
    }
  });

  it('closes a connection that sends a bad version, an unknown type or an oversized frame, and no other', async () => {
    const other = new Conn(port);
    try {
      for (const bad of [
        Buffer.from('0203000000000000', 'hex').fill(9, 0, 1), // version 9
        (() => { const b = frame(7, Buffer.alloc(4)); return b; })(), // type 7
        (() => { const b = Buffer.alloc(8); b[0] = 2; b[1] = 3; b.writeUIntBE(2 ** 40, 2, 6); return b; })(), // 1 TiB
      ]) {
        const c = new Conn(port);
        c.send(bad);
        await c.waitClosed();
      }
      other.send(frame(1, Buffer.from('node\n')));
      assert.equal((await other.read())?.[1].toString(), 'node\tA1\n');
    } finally {
      other.close();
    }
  });

  it('answers TIMEOUT (9) when a command outlives the client\'s server-side timeout, and goes on serving', async () => {
    const engine = t.node.services.get(UDF_ENGINE_KEY);
    assert.ok(engine !== undefined);
    await engine.register('slow.js', 'export function spin(rec) { const end = Date.now() + 2000; while (Date.now() < end) {} return 1; }');
    const c = new Conn(port);
    try {
      c.send(msg([0, 0x01, 0], [NS, SET, DIGEST, field(30, Buffer.from('slow')), field(31, Buffer.from('spin')), field(32, Buffer.from([0x90]))], [], 0, 150));
      const r = await c.read();
      // 9, not the UDF's own answer (0 after 2 s, or 100 when the UDF time limit ends it first)
      assert.equal(r?.[1][5], 9);
      c.send(frame(1, Buffer.from('node\n')));
      assert.equal((await c.read())?.[1].toString(), 'node\tA1\n');
    } finally {
      c.close();
    }
  });

  it('closes idle connections and frames larger than the configured maximum', async () => {
    const fe = new AerospikeFrontEnd({
      kernel: t.node.kernel, services: t.node.services, nodeId: 0xa1n, startedAtMs: Date.now(), version: VERSION,
      address: () => '127.0.0.1:0', clusterName: () => undefined, peers: () => [], logger: t.node.kernel.logger,
    }, { idleTimeoutMs: 300, maxFrameBytes: 1024 });
    const server: Server = createServer((s) => fe.accept(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const p = (server.address() as { port: number }).port;
    try {
      const idle = new Conn(p);
      idle.send(frame(1, Buffer.from('node\n')));
      assert.ok((await idle.read()) !== undefined);
      await idle.waitClosed(5000);
      const truncated = new Conn(p);
      truncated.send(frame(1, Buffer.from('node\n')).subarray(0, 10)); // a body that never completes
      await truncated.waitClosed(5000);
      const big = new Conn(p);
      big.send(frame(1, Buffer.alloc(2000, 0x41)));
      await big.waitClosed(5000);
    } finally {
      await fe.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it(`survives random and mutated frames, then serves both protocols (seed ${SEED})`, async () => {
    const valid = [
      CAPTURED_PUT,
      msg([0x03, 0, 0], [NS, SET, DIGEST], []),
      msg([0x01, 0, 0], [NS, SET, DIGEST], [op(1, 0, 'i'), op(3, 4, 'l', Buffer.from('9318070002', 'hex'))]),
      frame(1, Buffer.from('node\nreplicas\nsets\n')),
      msg([0x08, 0, 0], [field(41, BATCH_ROW)], []),
      msg([0x01, 0, 0x04], [NS, SET, field(11, Buffer.from('00000100', 'hex'))], []),
    ];
    const frames = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 200 }).map((a) => Buffer.from(a)),
      fc.tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }))
        .map(([v, muts]) => {
          const b = Buffer.from(v);
          for (const [at, byte] of muts) b[8 + (at % Math.max(1, b.length - 8))] = byte; // keep the proto header
          return b;
        }),
      fc.tuple(fc.constantFrom(...valid), fc.nat()).map(([v, cut]) => v.subarray(0, 8 + (cut % (v.length - 8)))),
    );
    await fc.assert(fc.asyncProperty(frames, async (bytes) => {
      const c = new Conn(port);
      try {
        c.send(bytes);
        c.socket.end();
        // an answer, or the connection closes: either way within the deadline
        for (;;) { const r = await c.read(15_000); if (r === undefined) break; }
      } finally {
        c.close();
      }
    }), { numRuns: 300, seed: SEED });
    assert.equal(await info(port, 'node\n'), 'node\tA1\n');
    assert.equal((await t.client.nodeInfo()).nodeId, 'A1', 'gRPC still answers');
  });
});

describe('Aerospike protocol: commit level', () => {
  it('info3 COMMIT_MASTER asks for commit-to-master; without it the namespace decides', async () => {
    const { policyOf } = await import('../../core/server/aerospike/records.ts');
    const { Info3 } = await import('../../core/server/aerospike/protocol.ts');
    const h = { info1: 0, info2: 1, info3: 0, info4: 0, generation: 0, recordTtl: 0, transactionTtl: 0 };
    assert.equal(policyOf({ ...h, info3: Info3.COMMIT_MASTER }, false, undefined).commitLevel, 'master');
    assert.equal(policyOf({ ...h, info3: Info3.COMMIT_MASTER | Info3.UPDATE_ONLY }, false, undefined).exists, 'updateOnly');
    assert.equal(policyOf(h, false, undefined).commitLevel, undefined);
  });
});

describe('Aerospike protocol: the client\'s timeout is the command\'s deadline', () => {
  it('a read and a write carry transaction_ttl as their deadline on the node\'s clock; without it, none', async () => {
    const { commandPolicyOf, readPolicyOf, WIRE_READ } = await import('../../core/server/aerospike/records.ts');
    const { startTestNode } = await import('../helpers/node-harness.ts');
    const t = await startTestNode();
    try {
      const h = { info1: 1, info2: 0, info3: 0, info4: 0, generation: 0, recordTtl: 0, transactionTtl: 250 };
      const before = t.node.kernel.clock.now();
      const read = readPolicyOf(t.node.kernel, h, undefined);
      const write = commandPolicyOf(t.node.kernel, { ...h, info1: 0, info2: 1 }, false, undefined);
      const after = t.node.kernel.clock.now();
      for (const [what, d] of [['read', read.deadline], ['write', write.deadline]] as const) {
        assert.ok(d !== undefined && d >= before + 250 && d <= after + 250, `${what} deadline ${String(d)} is now + 250 ms`);
      }
      assert.equal(read.replica, 'any', 'a read keeps the protocol\'s replica policy');
      assert.equal(readPolicyOf(t.node.kernel, { ...h, transactionTtl: 0 }, undefined), WIRE_READ, 'no timeout: the node\'s proxy deadline');
      assert.equal(commandPolicyOf(t.node.kernel, { ...h, transactionTtl: 0 }, false, undefined).deadline, undefined);
      const filter = (): boolean => true;
      assert.equal(readPolicyOf(t.node.kernel, { ...h, transactionTtl: 0 }, filter).filter, filter, 'the filter is kept');
    } finally {
      await t.stop();
    }
  });
});

describe('Aerospike protocol: a command served from memory is answered in its frame\'s turn', () => {
  it('a put and a whole-record get send their answer before the frame handler returns (nothing to wait for); a failure is answered too', async () => {
    const t = await startTestNode();
    const fe = new AerospikeFrontEnd({
      kernel: t.node.kernel, services: t.node.services, nodeId: 0xa1n, startedAtMs: Date.now(), version: VERSION,
      address: () => '127.0.0.1:0', clusterName: () => undefined, peers: () => [], logger: t.node.kernel.logger,
    });
    const sent: Buffer[] = [];
    const reply = { closed: false, send: (f: Buffer): Promise<void> => { sent.push(f); return SENT; } };
    // what a connection calls for each whole frame (private)
    const handle = (f: Buffer): Promise<void> | undefined =>
      (fe as unknown as { frame: (type: number, body: Buffer, reply: unknown, conn: unknown, access: unknown) => Promise<void> | undefined }).frame(f[1] as number, f.subarray(8), reply, undefined, undefined);
    const resultOf = (f: Buffer): number => f[8 + 5] as number;
    try {
      for (const timeoutMs of [1000, 0]) {
        sent.length = 0;
        const put = msg([0, 0x01, 0], [NS, SET, DIGEST], [op(2, 1, 'i', Buffer.from('000000000000002a', 'hex'))], 0, timeoutMs);
        assert.equal(handle(put), undefined, `put, transaction_ttl ${timeoutMs}`);
        assert.equal(sent.length, 1);
        assert.equal(resultOf(sent[0]!), 0);
        const get = msg([0x03, 0, 0], [NS, SET, DIGEST], [], 0, timeoutMs);
        assert.equal(handle(get), undefined, `get, transaction_ttl ${timeoutMs}`);
        assert.equal(sent.length, 2);
        assert.equal(resultOf(sent[1]!), 0);
        assert.ok(sent[1]!.includes(Buffer.from('000000000000002a', 'hex')), 'the get answers the bin written');
      }
      // a missing record and a bad bin name: answered at once with their result codes
      sent.length = 0;
      const missing = msg([0x03, 0, 0], [NS, SET, field(4, Buffer.alloc(20, 7))], []);
      await handle(missing);
      assert.deepEqual(sent.map(resultOf), [2]);
      const badName = msg([0, 0x01, 0], [NS, SET, DIGEST], [op(2, 1, 'x'.repeat(16), Buffer.from('0000000000000001', 'hex'))]);
      await handle(badName);
      assert.equal(sent.length, 2);
      assert.notEqual(resultOf(sent[1]!), 0);
      assert.equal(waitingDeadlines(), 0, 'no request left waiting on a deadline');
    } finally {
      await fe.close();
      await t.stop();
    }
  });
});
