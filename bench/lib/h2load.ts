import { connect, type ClientHttp2Session } from 'node:http2';
import type { LoadResult } from './loadgen.ts';

/**
 * A lean gRPC load generator on node:http2 directly (no grpc-js client machinery), so one
 * client core can push a server harder: pre-framed requests, `concurrency` calls in flight
 * over `sessions` HTTP/2 connections, for `seconds`. A call succeeds when its grpc-status is 0.
 */
export async function h2drive(address: string, path: string, requests: readonly Buffer[], options: { concurrency: number; seconds: number; sessions?: number }): Promise<LoadResult> {
  const framed = requests.map((b) => {
    const f = Buffer.allocUnsafe(5 + b.length);
    f[0] = 0;
    f.writeUInt32BE(b.length, 1);
    b.copy(f, 5);
    return f;
  });
  const sessions: ClientHttp2Session[] = [];
  for (let i = 0; i < (options.sessions ?? 2); i++) {
    const s = connect(`http://${address}`);
    await new Promise<void>((resolve, reject) => { s.once('connect', () => resolve()); s.once('error', reject); });
    sessions.push(s);
  }
  const headers = { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' };
  const lat: number[] = [];
  let ops = 0;
  let errors = 0;
  let i = 0;
  const one = (session: ClientHttp2Session): Promise<void> => new Promise((resolve) => {
    const t0 = performance.now();
    const req = session.request(headers, { endStream: false });
    let status: string | undefined;
    req.on('response', (h) => { const s = h['grpc-status']; if (s !== undefined) status = String(s); });
    req.on('trailers', (h) => { status = String(h['grpc-status']); });
    req.on('data', () => {});
    const done = (): void => {
      lat.push(performance.now() - t0);
      if (status === '0') ops++; else errors++;
      resolve();
    };
    req.on('end', done);
    req.on('error', done);
    req.end(framed[i++ % framed.length]);
  });
  const end = performance.now() + options.seconds * 1000;
  const start = performance.now();
  await Promise.all(Array.from({ length: options.concurrency }, async (_, w) => {
    const session = sessions[w % sessions.length] as ClientHttp2Session;
    while (performance.now() < end) await one(session);
  }));
  const seconds = (performance.now() - start) / 1000;
  for (const s of sessions) s.close();
  lat.sort((a, b) => a - b);
  const pct = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0;
  return { ops, errors, seconds, opsPerSec: ops / seconds, p50Ms: pct(0.5), p99Ms: pct(0.99) };
}
