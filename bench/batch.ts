/**
 * Batch writes: BatchOperate with 100 put entries per call against 100 single Put calls, from
 * the TypeScript client to a node process over gRPC (memory engine), records written per
 * second. The single puts run two ways: all 100 in flight at once (the fair peer: the same
 * concurrency, one call per record) and one after another (what a naive loop does).
 *
 *   npm run bench -- batch          (BENCH_SECONDS=5 by default)
 */
import { startNodeProcess } from '../test/helpers/process-node.ts';
import { SlipstreamClient, type ClientBatchEntry, type ClientKey, type ClientWritePolicy } from '../core/client/index.ts';
import type { Bins } from '../core/model/index.ts';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const PER_CALL = 100;
const CALLERS = 4;
const bins: Bins = { name: 'user-000000', age: 42n, score: 3.25, tags: ['a', 'b'], blob: new Uint8Array(40) };

async function rate(name: string, round: (base: number) => Promise<void>): Promise<string> {
  let written = 0;
  let next = 0;
  const until = Date.now() + SECONDS * 1000;
  const started = Date.now();
  await Promise.all(Array.from({ length: CALLERS }, async () => {
    while (Date.now() < until) {
      const base = next;
      next += PER_CALL;
      await round(base);
      written += PER_CALL;
    }
  }));
  const perSec = written / ((Date.now() - started) / 1000);
  return `| ${name} | ${Math.round(perSec).toLocaleString('en-US')} |`;
}

const node = await startNodeProcess(['--port', '0', '--log-level', 'warn'], { timeoutMs: 120_000 });
const client = await SlipstreamClient.connect({ hosts: `127.0.0.1:${node.port}`, timeoutMs: 60_000 });
const key = (i: number): ClientKey => ({ namespace: 'test', set: 'bench', key: `k${i % 100_000}` });
try {
  const batch = (base: number) => client.batchOperate(Array.from({ length: PER_CALL }, (_, j): ClientBatchEntry<ClientKey, ClientWritePolicy> => ({ kind: 'put', key: key(base + j), bins })))
    .then((r) => { if (r.some((x) => x.error !== undefined)) throw new Error('a batch entry failed'); });
  const parallel = (base: number) => Promise.all(Array.from({ length: PER_CALL }, (_, j) => client.put(key(base + j), bins))).then(() => undefined);
  const sequential = async (base: number) => { for (let j = 0; j < PER_CALL; j++) await client.put(key(base + j), bins); };
  await rate('warm-up', batch);
  await rate('warm-up', parallel);
  const lines = [
    `### Batch writes (\`bench/batch.ts\`, ${PER_CALL} records per round, ${CALLERS} callers, ${SECONDS} s each)`, '',
    '| how | records/s |', '| --- | ---: |',
    await rate('BatchOperate, 100 put entries per call', batch),
    await rate('100 single Put calls in flight at once', parallel),
    await rate('100 single Put calls one after another', sequential),
  ];
  console.log(lines.join('\n'));
} finally {
  client.close();
  await node.stop();
}
