import type { Logger } from '../../plugin-api/index.ts';
import type { Kernel } from '../../transaction/kernel.ts';
import type { ServiceLocator } from '../../services/locator.ts';
import type { StatisticsIdentity } from '../../transaction/statistics.ts';

/** What the Aerospike protocol front end serves from: the kernel and the node's subsystems. */
export interface FrontEndContext {
  readonly kernel: Kernel;
  readonly services: ServiceLocator;
  readonly nodeId: bigint;
  readonly startedAtMs: number;
  readonly version: string;
  /** This node's client address, host:port. */
  address(): string;
  /** The configured cluster name, when the node has one. */
  clusterName(): string | undefined;
  /** The other members of this node's cluster and their client addresses (host:port); none on a single node. */
  peers(): ReadonlyArray<{ readonly id: bigint; readonly address: string }>;
  /** This node's rack (cluster rackId); 0 when absent. */
  rackId?(): number;
  readonly logger: Logger;
  /** The node port's client connection counts (for `statistics`). */
  readonly connections?: StatisticsIdentity['connections'];
}
