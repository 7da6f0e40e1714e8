/**
 * A scan load in its own process: `scan-load.ts <host:port> <scans> <namespace> <set> [below]` runs that
 * many scans of the set at once (one record per message, so progress shows as it is made) (over as many connections as it needs: one connection runs at
 * most 16 streams on a node) and reads every record. It prints `progress <records>` every 20
 * records and `done <records per scan as JSON>` at the end. Used by the fairness test and
 * benchmark, so the scans' client work does not share the bystander's event loop.
 */
import { expr, SlipstreamClient } from '../../core/client/index.ts';

const [target = '', scansText = '32', namespace = 'test', set = '', below] = process.argv.slice(2);
/** With a fifth argument n: only records whose bin `i` is below n are sent (the node filters the rest). */
const filter = below === undefined ? undefined : expr.cmp('<', expr.bin('i'), expr.lit(BigInt(below)));
const scans = Number(scansText);
const port = target.slice(target.lastIndexOf(':') + 1);
// grpc-js shares one connection per target: distinct names for the same node give distinct connections
const targets = ['127.0.0.1', 'localhost'].map((h) => `${h}:${port}`);
if (scans > 16 * targets.length) throw new Error(`at most ${16 * targets.length} scans`);
const clients = await Promise.all(targets.slice(0, Math.ceil(scans / 16)).map((hosts) => SlipstreamClient.connect({ hosts, timeoutMs: 300_000 })));
let received = 0;
const counts = await Promise.all(Array.from({ length: scans }, async (_, i) => {
  let n = 0;
  for await (const _r of (clients[i % clients.length] as SlipstreamClient).scan(namespace, { set, recordsPerMessage: 1, ...(filter === undefined ? {} : { filter }) })) {
    n++;
    if (++received % 20 === 0) process.stdout.write(`progress ${received}\n`);
  }
  return n;
}));
process.stdout.write(`done ${JSON.stringify(counts)}\n`);
for (const c of clients) c.close();
