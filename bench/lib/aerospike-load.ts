/**
 * A raw Aerospike protocol load generator: requests built with the front end's own AS_MSG and
 * msgpack writers (core/server/aerospike), sent pre-built over plain sockets, `concurrency`
 * connections with one request in flight on each (as the official clients use a connection),
 * so no client library is the limit. An answer counts when its result code is 0.
 */
import { connect, type Socket } from 'node:net';
import { computeDigest } from '../../core/model/index.ts';
import type { BinValue } from '../../core/model/index.ts';
import { ResponseWriter, type OutBin } from '../../core/server/aerospike/message.ts';
import { MsgpackWriter } from '../../core/server/aerospike/msgpack.ts';
import { Field, Info2 } from '../../core/server/aerospike/protocol.ts';
import type { LoadResult } from './loadgen.ts';

/** One AS_MSG request proto, keyed by namespace, set and the digest of a string key. */
export function asRequest(r: { info1?: number; info2?: number; namespace: string; set: string; key: string; timeoutMs?: number; fields?: ReadonlyArray<readonly [number, Buffer]>; ops?: readonly OutBin[] }): Buffer {
  const w = new ResponseWriter();
  w.add({
    resultCode: 0, info1: r.info1 ?? 0, info2: r.info2 ?? 0, transactionTtl: r.timeoutMs ?? 1000,
    fields: [[Field.NAMESPACE, Buffer.from(r.namespace)], [Field.SET, Buffer.from(r.set)], [Field.DIGEST, Buffer.from(computeDigest(r.set, r.key))], ...(r.fields ?? [])],
    bins: r.ops ?? [],
  });
  return w.finish();
}

/** A record UDF apply request, as the clients send it (a write, module/function/msgpack argument list, UDF op 1). */
export function udfApplyRequest(namespace: string, set: string, key: string, module: string, fn: string, args: readonly BinValue[], timeoutMs = 1000): Buffer {
  const a = new MsgpackWriter();
  a.write(args);
  return asRequest({
    info2: Info2.WRITE, namespace, set, key, timeoutMs,
    fields: [[Field.UDF_PACKAGE_NAME, Buffer.from(module)], [Field.UDF_FUNCTION, Buffer.from(fn)], [Field.UDF_ARGLIST, Buffer.from(a.bytes())], [Field.UDF_OP, Buffer.from([1])]],
  });
}

/** The result code of an answer proto (AS_MSG header byte 5). */
const resultOf = (buf: Buffer): number => buf[8 + 5] as number;

/** Latencies are counted in a histogram of 10 µs buckets up to this (longer ones in the last bucket). */
const LATENCY_BUCKET_MS = 0.01;
const LATENCY_BUCKETS = 200_000;

/**
 * Drives `port` for `seconds`: `concurrency` sockets, each with one request in flight (the shape
 * of redis-benchmark -c, no pipelining), cycling through the pre-built frames. It is built to
 * take as little of the machine's CPU as a Node client can, since it shares the cores with the
 * server it measures and redis-benchmark, the peer, is a lean C client: the sockets read into
 * one reused buffer (`onread`, no stream chunk per read), an answer is read as its proto header
 * and result code in place, latencies go into a preallocated histogram, the clock is read once
 * per answer (the time an answer came is the time the next request goes), the end is a timer's
 * flag — nothing is allocated per call. `clientCpuUsPerOp` is this process's CPU per answer.
 */
export async function aerospikeDrive(port: number, frames: readonly Buffer[], options: { concurrency: number; seconds: number }): Promise<LoadResult & { readonly clientCpuUsPerOp: number }> {
  let ops = 0;
  let errors = 0;
  let i = 0;
  let stopping = false;
  const histogram = new Uint32Array(LATENCY_BUCKETS);
  const shared = Buffer.allocUnsafe(256 * 1024);
  const nFrames = frames.length;
  const drivers = Array.from({ length: options.concurrency }, () => {
    let pending: Buffer | undefined;
    let t0 = 0;
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => { finish = resolve; });
    let socket: Socket | undefined;
    const send = (now: number): void => {
      if (stopping) { socket?.destroy(); finish(); return; }
      t0 = now;
      socket?.write(frames[i++ % nFrames] as Buffer);
    };
    /** Answers in b[0, n): each whole one is counted and followed by the next request. */
    const answers = (b: Buffer, n: number): void => {
      let o = 0;
      while (n - o >= 8) {
        const size = b.readUInt16BE(o + 2) * 0x100000000 + b.readUInt32BE(o + 4);
        if (n - o < 8 + size) break;
        const now = performance.now();
        const bucket = Math.floor((now - t0) / LATENCY_BUCKET_MS);
        const at = bucket < LATENCY_BUCKETS ? bucket : LATENCY_BUCKETS - 1;
        histogram[at] = (histogram[at] as number) + 1;
        if (b[o + 8 + 5] === 0) ops++; else errors++;
        o += 8 + size;
        send(now);
      }
      // the shared buffer is reused by the next read: keep what is left of a frame (rare: one request in flight)
      if (o < n) pending = Buffer.from(b.subarray(o, n));
    };
    const onread = (n: number, buf: Uint8Array): boolean => {
      if (pending === undefined) {
        answers(buf as Buffer, n);
      } else {
        const b = Buffer.concat([pending, buf.subarray(0, n)]);
        pending = undefined;
        answers(b, b.length);
      }
      return true;
    };
    const connected = new Promise<void>((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1', onread: { buffer: shared, callback: onread } }, () => resolve());
      s.setNoDelay(true);
      s.once('error', reject);
      socket = s;
    });
    return { connected, start: (): Promise<void> => {
      socket?.removeAllListeners('error');
      socket?.on('error', () => { errors++; finish(); });
      send(performance.now());
      return done;
    } };
  });
  await Promise.all(drivers.map((d) => d.connected));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const timer = setTimeout(() => { stopping = true; }, options.seconds * 1000);
  await Promise.all(drivers.map((d) => d.start()));
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const pct = (p: number): number => {
    const want = Math.max(1, Math.ceil((ops + errors) * p));
    let seen = 0;
    for (let b = 0; b < LATENCY_BUCKETS; b++) {
      seen += histogram[b] as number;
      if (seen >= want) return (b + 0.5) * LATENCY_BUCKET_MS;
    }
    return 0;
  };
  return { ops, errors, seconds, opsPerSec: ops / seconds, p50Ms: pct(0.5), p99Ms: pct(0.99), clientCpuUsPerOp: (cpu.user + cpu.system) / Math.max(1, ops) };
}

/** Sends every frame exactly once (`concurrency` connections); throws when any answer is an error. */
export async function aerospikeOnce(port: number, frames: readonly Buffer[], concurrency: number): Promise<void> {
  let next = 0;
  let failed = 0;
  await Promise.all(Array.from({ length: concurrency }, () => new Promise<void>((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let buf: Buffer = Buffer.alloc(0);
    const send = (): void => {
      const f = frames[next++];
      if (f === undefined) { s.destroy(); resolve(); return; }
      s.write(f);
    };
    s.on('connect', send);
    s.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      while (buf.length >= 8 && buf.length >= 8 + buf.readUIntBE(2, 6)) {
        if (resultOf(buf) !== 0) failed++;
        buf = buf.subarray(8 + buf.readUIntBE(2, 6));
        send();
      }
    });
    s.on('error', reject);
  })));
  if (failed > 0) throw new Error(`${failed} of ${frames.length} requests failed`);
}
