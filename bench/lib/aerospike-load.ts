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

/**
 * Drives `port` for `seconds`: `concurrency` sockets, each with one request in flight, cycling
 * through the pre-built frames. Latencies are per request. The sockets read into one reused
 * buffer (`onread`), without the stream machinery's chunk per read, so that the generator takes
 * as little of the machine's CPU as it can (it shares the cores with the server it measures;
 * redis-benchmark, the peer, is a lean C client).
 */
export async function aerospikeDrive(port: number, frames: readonly Buffer[], options: { concurrency: number; seconds: number }): Promise<LoadResult> {
  let ops = 0;
  let errors = 0;
  let i = 0;
  const lat: number[] = [];
  const end = performance.now() + options.seconds * 1000;
  const shared = Buffer.allocUnsafe(256 * 1024);
  const drivers = Array.from({ length: options.concurrency }, () => {
    let pending: Buffer | undefined;
    let t0 = 0;
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => { finish = resolve; });
    let socket: Socket | undefined;
    const next = (): void => {
      if (performance.now() >= end) { socket?.destroy(); finish(); return; }
      t0 = performance.now();
      socket?.write(frames[i++ % frames.length] as Buffer);
    };
    const onread = (n: number, buf: Buffer): void => {
      let b = buf.subarray(0, n);
      if (pending !== undefined) {
        b = Buffer.concat([pending, b]);
        pending = undefined;
      }
      let o = 0;
      while (b.length - o >= 8) {
        const size = b.readUIntBE(o + 2, 6);
        if (b.length - o < 8 + size) break;
        lat.push(performance.now() - t0);
        if (b[o + 8 + 5] === 0) ops++; else errors++;
        o += 8 + size;
        next();
      }
      // the shared buffer is reused by the next read: keep what is left of a frame
      if (o < b.length) pending = Buffer.from(b.subarray(o));
    };
    const connected = new Promise<void>((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1', onread: { buffer: shared, callback: (n: number, buf: Uint8Array) => { onread(n, buf as Buffer); return true; } } }, () => resolve());
      s.setNoDelay(true);
      s.once('error', reject);
      socket = s;
    });
    return { connected, start: (): Promise<void> => {
      socket?.removeAllListeners('error');
      socket?.on('error', () => { errors++; finish(); });
      next();
      return done;
    } };
  });
  await Promise.all(drivers.map((d) => d.connected));
  const t0 = performance.now();
  await Promise.all(drivers.map((d) => d.start()));
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0;
  return { ops, errors, seconds, opsPerSec: ops / seconds, p50Ms: pct(0.5), p99Ms: pct(0.99) };
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
