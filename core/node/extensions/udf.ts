/**
 * UDFs as a node subsystem: opens the UDF engine over the node's system metadata (modules are
 * durable when the metadata is, and follow changes other nodes make), runs background jobs,
 * provides the engine, the jobs and the UdfRunner to other subsystems (AQL) and serves
 * slipstream.v1.UdfService. An optional `udf` config section sets the limits:
 *
 *   "udf": { "isolation": "process", "memoryLimitMb": 64, "poolSize": 2, "defaultTimeoutMs": 1000,
 *            "defaultAggregationTimeoutMs": 30000, "maxTimeoutMs": 60000, "maxCallsPerIsolate": 100000 }
 *
 * `isolation` is "process" (default: the sandboxes run in a UDF host child process, so no UDF
 * can take the node down) or "in-process" (lowest latency; a catastrophic isolate failure then
 * aborts the node). See docs/udf.md.
 */
import { Counter, Gauge } from 'prom-client';
import { UdfRunner } from '../../query/udf-runner.ts';
import { Type, checkSchema } from '../../schema/index.ts';
import { udfHandlers } from '../../server/handlers/udf.ts';
import { UdfServiceService } from '../../wire/generated/slipstream/v1/udf.ts';
import { UdfEngine, type UdfEngineOptions } from '../../udf/engine.ts';
import { UdfJobs } from '../../udf/jobs.ts';
import { serveForwardedUdfs } from '../../udf/kernel-bridge.ts';
import { CONFIG_CONTROL, QUERY_SUBSYSTEM, REMOTE_CALLS, SMD_SYNC, UDF_ENGINE_KEY, UDF_JOBS_KEY, UDF_RUNNER_KEY } from '../../services/index.ts';
import { UDF_SMD_MODULE } from '../../udf/smd-store.ts';
import { SmdModuleStore } from '../../udf/smd-store.ts';
import type { NodeExtension } from '../extension.ts';
import { DbError } from '../../errors/index.ts';

type Limits = Pick<UdfEngineOptions, 'isolation' | 'memoryLimitMb' | 'poolSize' | 'defaultTimeoutMs' | 'defaultAggregationTimeoutMs' | 'maxTimeoutMs' | 'maxCallsPerIsolate'>;
type IntLimits = Omit<Limits, 'isolation'>;
const ISOLATIONS: readonly string[] = ['process', 'in-process'] satisfies ReadonlyArray<NonNullable<UdfEngineOptions['isolation']>>;

const LIMITS: Record<keyof IntLimits, readonly [number, number]> = {
  memoryLimitMb: [8, 4096],
  poolSize: [1, 64],
  defaultTimeoutMs: [1, 3_600_000],
  defaultAggregationTimeoutMs: [1, 3_600_000],
  maxTimeoutMs: [1, 3_600_000],
  maxCallsPerIsolate: [1, 1e9],
};

/** The `udf` config section. */
export const udfSchema = Type.Object({
  isolation: Type.Optional(Type.Union(ISOLATIONS.map((i) => Type.Literal(i)), { description: 'where UDF isolates run: a UDF host child process (default) or this process' })),
  ...Object.fromEntries(Object.entries(LIMITS).map(([k, [min, max]]) => [k, Type.Optional(Type.Integer({ minimum: min, maximum: max }))])),
}, { additionalProperties: false, title: 'UDF', hint: 'see docs/udf.md' });

/** Validates the `udf` config section. */
export function parseUdfConfig(raw: unknown): Limits {
  if (raw === undefined) return {};
  checkSchema(udfSchema, raw, 'config udf');
  return raw as Limits;
}

export function udfExtension(): NodeExtension {
  return {
    name: 'udf',
    sections: ['udf'],
    schemas: { udf: udfSchema },
    async start(ctx) {
      const limits = parseUdfConfig(ctx.config.sections['udf']);
      const store = new SmdModuleStore(ctx.systemMetadata);
      const engine = new UdfEngine({
        ...limits,
        store,
        // aerospike.log() lines; in-process, a catastrophic isolate failure keeps the engine's default (abort the process)
        onLog: (module, fn, line) => ctx.logger.debug({ module, fn }, line),
        onHostEvent: (e) => {
          if (e.kind === 'start') ctx.logger.info({ udfHostPid: e.pid, generation: e.generation, startMs: e.startMs }, 'UDF host process started');
          else if (e.reason === 'stopped') ctx.logger.info({ udfHostPid: e.pid, generation: e.generation }, 'UDF host process stopped');
          else ctx.logger.warn({ udfHostPid: e.pid, generation: e.generation, reason: e.reason, inFlight: e.inFlight }, 'UDF host process died; calls in flight failed, a fresh one takes over');
        },
      });
      for (const f of await engine.registry.open()) {
        ctx.logger.error({ module: f.fileName, err: f.error.message }, 'a stored UDF module no longer loads; it is skipped');
      }
      const unwatch = store.watchModules(engine.registry, (fileName, err) => ctx.logger.error({ module: fileName, err }, 'a UDF module from system metadata failed to install'));
      // on a cluster, modules registered on any node reach this one; a call never runs on an older set
      const sync = ctx.services.get(SMD_SYNC);
      if (sync !== undefined) {
        engine.moduleSync = {
          localNode: ctx.nodeId,
          digest: () => sync.digest(UDF_SMD_MODULE),
          async catchUpFrom(node, digest) {
            await sync.catchUpFrom(node, UDF_SMD_MODULE, digest);
            await store.settled();
          },
          async whenCaughtUp(timeoutMs) {
            const ok = await sync.whenCaughtUp(timeoutMs);
            await store.settled();
            return ok;
          },
        };
      }
      // time, memory and recycling limits follow live configuration changes (udf.*)
      const control = ctx.services.get(CONFIG_CONTROL);
      const uncheck = control?.check('udf', (section) => {
        const next = parseUdfConfig(section);
        if ((next.isolation ?? 'process') !== engine.isolation || next.poolSize !== limits.poolSize) {
          throw new DbError('PARAMETER', 'udf.isolation and udf.poolSize take a restart', { hint: 'change them in the config file and restart the node' });
        }
      });
      const unwatchConfig = control?.watch((applied) => {
        if (!applied.some((a) => a.name.startsWith('udf.'))) return;
        const next = parseUdfConfig((control.current()['sections'] as Record<string, unknown> | undefined)?.['udf']);
        const { defaultTimeoutMs, defaultAggregationTimeoutMs, maxTimeoutMs, maxCallsPerIsolate, memoryLimitMb } = next;
        engine.reconfigure({ defaultTimeoutMs, defaultAggregationTimeoutMs, maxTimeoutMs, maxCallsPerIsolate, memoryLimitMb });
      });
      const jobs = new UdfJobs(ctx.kernel, engine);
      const runner = new UdfRunner(ctx.kernel, engine, jobs, () => ctx.services.get(QUERY_SUBSYSTEM));
      // on a cluster, aggregations run their partial phase on the partitions' masters
      const calls = ctx.services.get(REMOTE_CALLS);
      if (calls !== undefined) runner.useCluster(calls);
      ctx.services.provide(UDF_ENGINE_KEY, engine);
      ctx.services.provide(UDF_JOBS_KEY, jobs);
      ctx.services.provide(UDF_RUNNER_KEY, runner);
      serveForwardedUdfs(ctx.kernel, engine);
      ctx.server.addService('slipstream.v1.UdfService', UdfServiceService, udfHandlers(runner, () => ctx.clock.now(), ctx.logger));
      ctx.logger.info({ modules: engine.listModules().length, isolation: engine.isolation }, 'UDF modules loaded');
      new Counter({
        name: 'slipstream_udf_host_deaths_total', help: 'UDF host processes that died (crash, abort, out of memory, wedged) and were replaced.', registers: [ctx.server.metrics.registry],
        collect() { this.reset(); this.inc(engine.host?.died ?? 0); },
      });
      new Counter({
        name: 'slipstream_udf_host_calls_total', help: 'UDF calls sent to the UDF host process (process isolation).', registers: [ctx.server.metrics.registry],
        collect() { this.reset(); this.inc(engine.host?.callsSent ?? 0); },
      });
      new Counter({
        name: 'slipstream_udf_host_call_writes_total',
        help: 'Writes on the call pipe to the UDF host process; calls per write is the size of the batches the host runs.', registers: [ctx.server.metrics.registry],
        collect() { this.reset(); this.inc(engine.host?.callWrites ?? 0); },
      });
      new Gauge({
        name: 'slipstream_udf_modules', help: 'Registered UDF modules.', registers: [ctx.server.metrics.registry],
        collect() { this.set(engine.listModules().length); },
      });
      return {
        async stop() {
          unwatch();
          unwatchConfig?.();
          uncheck?.();
          await jobs.close();
          await engine.shutdown();
        },
      };
    },
  };
}
