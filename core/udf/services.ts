/**
 * Keys under which a node's UDF subsystem is found by other subsystems (AQL, the gRPC
 * handlers, a cluster fan-out): `services.get(UDF_ENGINE_KEY)`.
 */
import { serviceKey } from '../transaction/services.ts';
import type { UdfEngine } from './engine.ts';
import type { UdfJobs } from './jobs.ts';

/** The node's UDF engine (modules, sandbox pools, record and stream UDFs). */
export const UDF_ENGINE_KEY = serviceKey<UdfEngine>('udf.engine');
/** The node's background UDF jobs. */
export const UDF_JOBS_KEY = serviceKey<UdfJobs>('udf.jobs');
