import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';

export interface LoadResult {
  readonly ops: number;
  readonly errors: number;
  readonly seconds: number;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * Drives one unary gRPC method with pre-serialised requests, `concurrency` calls in flight,
 * for `seconds`. Requests are bytes so the client spends as little CPU as possible.
 */
export async function drive(address: string, path: string, requests: readonly Buffer[], options: { concurrency: number; seconds: number }): Promise<LoadResult> {
  const client = new Client(address, credentials.createInsecure());
  await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 10_000, (e) => (e ? reject(e) : resolve())));
  const lat: number[] = [];
  let ops = 0;
  let errors = 0;
  let i = 0;
  const end = performance.now() + options.seconds * 1000;
  const one = (): Promise<void> => new Promise((resolve) => {
    const body = requests[i++ % requests.length] as Buffer;
    const t0 = performance.now();
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, body, new Metadata(), {}, (err: ServiceError | null) => {
      lat.push(performance.now() - t0);
      if (err) errors++; else ops++;
      resolve();
    });
  });
  const start = performance.now();
  await Promise.all(Array.from({ length: options.concurrency }, async () => {
    while (performance.now() < end) await one();
  }));
  const seconds = (performance.now() - start) / 1000;
  client.close();
  lat.sort((a, b) => a - b);
  const pct = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0;
  return { ops, errors, seconds, opsPerSec: ops / seconds, p50Ms: pct(0.5), p99Ms: pct(0.99) };
}
