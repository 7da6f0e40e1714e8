/**
 * How big the batches a node sends its UDF host process are: the node's counters of calls sent
 * and call pipe writes (slipstream_udf_host_calls_total / slipstream_udf_host_call_writes_total),
 * read from its metrics endpoint (a node started with `metricsPort`).
 */

export interface HostBatchCount {
  readonly calls: number;
  readonly writes: number;
}

/**
 * The node's counters now; zeros when it serves no metrics or has no such counters (older code);
 * undefined when the scrape failed (the column is then left empty rather than the bench failing).
 */
export async function hostBatchCount(metricsPort: number | undefined): Promise<HostBatchCount | undefined> {
  if (metricsPort === undefined) return { calls: 0, writes: 0 };
  let text: string;
  try {
    text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  } catch (err) {
    process.stderr.write(`could not read the node's metrics on port ${metricsPort}: ${err instanceof Error ? err.message : String(err)}\n`);
    return undefined;
  }
  const value = (name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line === undefined ? 0 : Number(line.slice(name.length + 1));
  };
  return { calls: value('slipstream_udf_host_calls_total'), writes: value('slipstream_udf_host_call_writes_total') };
}

/** Calls per write between two counts; undefined when no call was written in between. */
export function callsPerWrite(before: HostBatchCount | undefined, after: HostBatchCount | undefined): number | undefined {
  if (before === undefined || after === undefined) return undefined;
  return after.writes > before.writes ? (after.calls - before.calls) / (after.writes - before.writes) : undefined;
}
