/**
 * Every key under which a node's subsystems provide objects to each other through the node's
 * ServiceLocator: the one place they are declared. An extension provides what it starts
 * (`ctx.services.provide(QUERY_SUBSYSTEM, q)`); others find it (`services.get(QUERY_SUBSYSTEM)`,
 * undefined when that subsystem is not on this node).
 */
import { serviceKey } from './locator.ts';
import type { ClusterService } from '../cluster/index.ts';
import type { QuerySubsystem } from '../query/query-engine-service.ts';
import type { UdfRunner } from '../query/udf-runner.ts';
import type { StatisticsIdentity } from '../transaction/statistics.ts';
import type { UdfEngine } from '../udf/engine.ts';
import type { UdfJobs } from '../udf/jobs.ts';
import type { StorageMaintenance } from '../storage/maintenance.ts';
import type { PluginInfoSource } from '../transaction/plugin-info.ts';
import type { ConfigControl } from '../transaction/config-control.ts';
import type { ClusterConfig } from '../transaction/cluster-config.ts';
import type { Security } from '../security/security.ts';
import type { SmdSync } from '../replication/smd-sync.ts';
import type { RemoteCalls } from '../replication/remote-calls.ts';

/** Who this node is: id, version, start time and its client-facing address (after the port is bound). */
export interface NodeIdentity extends StatisticsIdentity {
  readonly version: string;
  address(): string;
}

/** The node's identity (the node provides it before any extension starts). */
export const NODE_IDENTITY = serviceKey<NodeIdentity>('node-identity');
/** Eviction, the tomb raider, expiry sweeps and truncate markers of every namespace. */
export const STORAGE_MAINTENANCE = serviceKey<StorageMaintenance>('storage-maintenance');
/** The cluster service (membership, partition tables), on a node that is part of a cluster. */
export const CLUSTER_SERVICE = serviceKey<ClusterService>('cluster');
/** System metadata on every member (collect, merge, distribute), on a node that is part of a cluster. */
export const SMD_SYNC = serviceKey<SmdSync>('smd-sync');
/** Requests to other members over the fabric (the data path's calls), on a node that is part of a cluster. */
export const REMOTE_CALLS = serviceKey<RemoteCalls>('remote-calls');
/** Secondary indexes and the query engine. */
export const QUERY_SUBSYSTEM = serviceKey<QuerySubsystem>('query');
/** The node's UDF engine (modules, sandbox pools, record and stream UDFs). */
export const UDF_ENGINE_KEY = serviceKey<UdfEngine>('udf.engine');
/** The node's background UDF jobs. */
export const UDF_JOBS_KEY = serviceKey<UdfJobs>('udf.jobs');
/** Runs record UDFs, background jobs and aggregations over this node's kernel and indexes. */
export const UDF_RUNNER_KEY = serviceKey<UdfRunner>('udf.runner');
/** The node's plugins: what they are, their instances' options and health, their run-time errors. */
export const PLUGIN_INFO = serviceKey<PluginInfoSource>('plugins');
/** The node's live configuration (AdminService GetConfig/SetConfig, AQL SHOW CONFIG / SET CONFIG). */
export const CONFIG_CONTROL = serviceKey<ConfigControl>('config-control');
/** Live configuration changes sent to every member of the cluster (AQL SET CONFIG), on a node in a cluster. */
export const CLUSTER_CONFIG = serviceKey<ClusterConfig>('cluster-config');
/** Users, roles, sessions and the audit trail, on a node with a `security` section. */
export const SECURITY = serviceKey<Security>('security');
