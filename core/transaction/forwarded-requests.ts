/**
 * The serving side of forwarding: on a partition's master, runs the single-record requests and
 * scan pages other nodes forward to it (`forwarding.ts` is the sending side) on the local kernel.
 */
import type { Bins } from '../model/index.ts';
import type { Operation } from './operations.ts';
import type { Kernel } from './kernel.ts';
import type { ScanPageRequest } from './cluster-scan.ts';
import type { Forwarding, ReadOptions, WireKey, WirePolicy } from './forwarding.ts';

/** Serves the kernel's forwarded single-record requests and scan pages on this node. */
export function serveKernelRequests(kernel: Kernel, f: Forwarding): void {
  f.serve<ScanPageRequest>('kv.scanPage', (req) => kernel.scanPage({ ...req, ...f.filter(req.filterSource) }));
  f.serve<{ key: WireKey; options: ReadOptions & { filterSource?: string } }>('kv.get', ({ key, options }) => {
    const { filterSource: src, ...rest } = options;
    return kernel.get(key, { ...rest, ...f.filter(src) });
  });
  f.serve<{ namespace: string; set?: string; beforeMs: number }>('kv.truncate', ({ namespace, set, beforeMs }) =>
    // the caller's clock set the cut-off; a node whose clock is behind never truncates its future
    kernel.truncate(namespace, set, Math.min(beforeMs, kernel.clock.now() + 1)));
  f.serve<{ key: WireKey }>('kv.getStored', ({ key }) => kernel.getStored(key));
  f.serve<{ key: WireKey; filterSource?: string }>('kv.exists', ({ key, filterSource: src }) => kernel.exists(key, f.filter(src)));
  f.serve<{ key: WireKey; bins: Bins; policy: WirePolicy }>('kv.put', ({ key, bins, policy }) => kernel.put(key, bins, f.policy(policy)));
  f.serve<{ key: WireKey; policy: WirePolicy }>('kv.delete', ({ key, policy }) => kernel.delete(key, f.policy(policy)));
  f.serve<{ key: WireKey; policy: WirePolicy }>('kv.touch', ({ key, policy }) => kernel.touch(key, f.policy(policy)));
  f.serve<{ key: WireKey; ops: Operation[]; policy: WirePolicy }>('kv.operate', ({ key, ops, policy }) => kernel.operate(key, ops, f.policy(policy)));
}
