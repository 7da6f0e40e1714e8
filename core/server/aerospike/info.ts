/**
 * The info protocol (message type 1): one command per line (`name`, `name:k=v;k=v`,
 * `name/arg/arg`), answered `<line>\t<value>\n` in order, errors as `ERROR:<code>:<message>`.
 * Values come from the kernel, the index and UDF subsystems and the jobs the front end
 * started; the grammar of each answer is the one the official clients parse.
 */
import { DbError, toDbError } from '../../errors/index.ts';
import { N_PARTITIONS } from '../../model/index.ts';
import { statistics, setList } from '../../transaction/statistics.ts';
import { CLUSTER_SERVICE, CONFIG_CONTROL, QUERY_SUBSYSTEM } from '../../services/keys.ts';
import type { IndexDefinition, IndexType, CollectionType } from '../../query/index/definition.ts';
import type { IndexStatus } from '../../query/index/manager.ts';
import { UDF_ENGINE_KEY } from '../../services/keys.ts';
import type { FrontEndContext } from './context.ts';
import { AEROSPIKE_BUILD } from './protocol.ts';
import type { JobTracker } from './jobs.ts';

/** A parsed command line. */
export interface InfoCommand {
  readonly line: string;
  readonly name: string;
  /** `name/a/b` → ['a', 'b']. */
  readonly path: readonly string[];
  readonly params: ReadonlyMap<string, string>;
}

export function parseInfoLine(line: string): InfoCommand {
  const m = /[/:;]/.exec(line);
  const name = m === null ? line : line.slice(0, m.index);
  const rest = m === null ? '' : line.slice(m.index);
  const path: string[] = [];
  const params = new Map<string, string>();
  if (rest.startsWith('/')) {
    const [p, q] = splitOnce(rest.slice(1), ':');
    path.push(...p.split('/'));
    parseParams(q, params);
  } else if (rest.startsWith(':') || rest.startsWith(';')) {
    parseParams(rest.slice(1), params);
  }
  return { line, name, path, params };
}

function splitOnce(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 1)];
}

function parseParams(s: string, out: Map<string, string>): void {
  for (const part of s.split(';')) {
    if (part === '') continue;
    const [k, v] = splitOnce(part, '=');
    out.set(k, v);
  }
}

function infoError(code: number, message: string): string {
  return `ERROR:${code === 1 ? '' : code}:${message.replace(/[\t\n]/g, ' ')}`;
}

function need(cmd: InfoCommand, ...names: string[]): string {
  for (const n of names) {
    const v = cmd.params.get(n);
    if (v !== undefined && v !== '') return v;
  }
  throw new DbError('PARAMETER', `${cmd.name} needs ${names.join(' or ')}=`, { hint: `send ${cmd.name}:${names[0]}=<value>` });
}

/** 4096 ownership bits (partition i = byte i>>3, bit 0x80>>(i&7)) as base64. */
function bitmap(owned: (p: number) => boolean): string {
  const b = Buffer.alloc(N_PARTITIONS / 8);
  for (let p = 0; p < N_PARTITIONS; p++) if (owned(p)) b[p >> 3] = (b[p >> 3] as number) | (0x80 >> (p & 7));
  return b.toString('base64');
}

const FEATURES = 'batch-any;batch-index;blob-bits;cdt-list;cdt-map;cluster-stable;float;geo;peers;pipelining;pquery;pscans;query-show;replicas;replicas-all;replicas-master;truncate-namespace;udf';

/** Aerospike's names of the namespace settings that change live, and Slipstream's. */
const AS_NAMESPACE_SETTINGS: Readonly<Record<string, string>> = {
  'default-ttl': 'defaultTtl', 'max-ttl': 'maxTtl', 'max-record-size': 'maxRecordBytes',
  'evict-used-pct': 'eviction.evictUsedPct', 'stop-writes-used-pct': 'eviction.stopWritesUsedPct', 'evict-tenths-pct': 'eviction.evictTenthsPct',
};

const INDEX_TYPES: Readonly<Record<string, IndexType>> = { NUMERIC: 'NUMERIC', INTEGER: 'NUMERIC', STRING: 'STRING', GEO2DSPHERE: 'GEO2DSPHERE', BLOB: 'BLOB' };
const COLLECTIONS: Readonly<Record<string, CollectionType>> = { DEFAULT: 'DEFAULT', LIST: 'LIST', MAPKEYS: 'MAPKEYS', MAPVALUES: 'MAPVALUES' };

export class InfoService {
  private readonly ctx: FrontEndContext;
  private readonly jobs: JobTracker;
  private partitionGeneration = 1;
  private lastReplicas = '';
  private peersGeneration = 1;
  private lastPeers = '';

  constructor(ctx: FrontEndContext, jobs: JobTracker) {
    this.ctx = ctx;
    this.jobs = jobs;
  }

  /** Answers an info request body (one command per line); `check` may refuse a command (access control). */
  async answer(body: string, check?: (cmd: InfoCommand) => void): Promise<string> {
    const lines = body.split('\n').filter((l) => l !== '');
    let out = '';
    for (const line of lines) {
      let value: string;
      try {
        const cmd = parseInfoLine(line);
        check?.(cmd);
        value = await this.command(cmd);
      } catch (err) {
        const e = toDbError(err);
        value = infoError(e.resultCode, e.message);
      }
      out += `${line}\t${value}\n`;
    }
    return out;
  }

  /**
   * asinfo's `set-config:context=namespace;id=<ns>;default-ttl=3600` (Aerospike's names for the
   * namespace settings), or `context=slipstream;<setting>=<value>` for any dynamic setting by its
   * Slipstream name (e.g. `udf.maxTimeoutMs`); applied on this node as AdminService.SetConfig
   * would (docs/live-configuration.md). Answers `ok`.
   */
  /**
   * Aerospike's `quiesce:` / `quiesce-undo:`: the node gives up (or takes back) its partitions —
   * listed last in every row, it masters and replicates nothing while it still serves and proxies.
   * Unlike Aerospike no `recluster:` is needed: the principal re-forms within a settle time.
   */
  private quiesce(on: boolean): string {
    const cluster = this.ctx.services.get(CLUSTER_SERVICE);
    if (cluster === undefined) throw new DbError('UNSUPPORTED_FEATURE', 'this node is not part of a cluster: there is nothing to quiesce', { hint: 'quiesce a node that has a cluster section' });
    if (!cluster.quiesce(on)) throw new DbError('PARAMETER', 'this node is leaving the cluster: its quiesce cannot be undone', { hint: 'start the node again once it has stopped' });
    return 'ok';
  }

  /** Aerospike's `recluster:`: the cluster re-forms by itself here, so the principal only acknowledges it. */
  private recluster(): string {
    const cluster = this.ctx.services.get(CLUSTER_SERVICE);
    if (cluster === undefined) throw new DbError('UNSUPPORTED_FEATURE', 'this node is not part of a cluster', { hint: 'recluster a node that has a cluster section' });
    return cluster.info().principal === this.ctx.nodeId ? 'ok' : 'ignored-by-non-principal';
  }

  private setConfig(cmd: InfoCommand): string {
    const control = this.ctx.services.get(CONFIG_CONTROL);
    if (control === undefined) throw new DbError('UNSUPPORTED_FEATURE', 'this node has no live configuration', { hint: 'change the config file and restart' });
    const context = cmd.params.get('context') ?? '';
    const changes: Array<{ name: string; value: unknown }> = [];
    const value = (v: string): unknown => (/^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v === 'true' ? true : v === 'false' ? false : v);
    for (const [k, v] of cmd.params) {
      if (k === 'context' || k === 'id' || (context === 'namespace' && k === 'namespace')) continue;
      if (context === 'namespace') {
        const setting = AS_NAMESPACE_SETTINGS[k];
        if (setting === undefined) {
          throw new DbError('PARAMETER', `namespace setting '${k}' cannot change while the node runs`, { hint: `dynamic namespace settings: ${Object.keys(AS_NAMESPACE_SETTINGS).join(', ')}` });
        }
        changes.push({ name: `namespaces.${need(cmd, 'id', 'namespace')}.${setting}`, value: value(v) });
      } else if (context === 'slipstream') {
        changes.push({ name: k, value: value(v) });
      } else {
        throw new DbError('PARAMETER', `set-config context '${context}' is not known`, { hint: 'use context=namespace;id=<ns>;<setting>=<value>, or context=slipstream;<setting>=<value> with a Slipstream setting name' });
      }
    }
    control.set(changes);
    return 'ok';
  }

  /**
   * The ownership bitmaps of every namespace, one per copy (`ns:regime,n,master,replica1,…`),
   * from the kernel's router: clients read from a replica by picking the node of a later column.
   */
  private replicas(): string {
    const { kernel } = this.ctx;
    const { router } = kernel;
    const local = router.localNode;
    const s = kernel.namespaceNames().map((ns) => {
      const copies = router.copiesOf;
      let n = 1;
      if (copies !== undefined) for (let p = 0; p < N_PARTITIONS; p++) n = Math.max(n, copies(ns, p).length);
      const columns = [bitmap((p) => router.masterOf(ns, p) === local)];
      for (let i = 1; i < n && copies !== undefined; i++) columns.push(bitmap((p) => copies(ns, p)[i] === local));
      return `${ns}:0,${n},${columns.join(',')}`;
    }).join(';');
    if (s !== this.lastReplicas) {
      if (this.lastReplicas !== '') this.partitionGeneration++;
      this.lastReplicas = s;
    }
    return s;
  }

  private async command(cmd: InfoCommand): Promise<string> {
    const { kernel } = this.ctx;
    switch (cmd.name) {
      case 'node': return this.ctx.nodeId.toString(16).toUpperCase();
      case 'build': return AEROSPIKE_BUILD;
      case 'version': return `Slipstream ${this.ctx.version} (Aerospike protocol, build ${AEROSPIKE_BUILD})`;
      case 'edition': return 'Slipstream';
      case 'release': return `edition=Slipstream;version=${AEROSPIKE_BUILD};slipstream=${this.ctx.version};os=${process.platform};arch=${process.arch}`;
      case 'status': return 'ok';
      case 'features': return FEATURES;
      case 'user-agent-set': return 'ok';
      case 'partitions': return String(N_PARTITIONS);
      case 'partition-generation': this.replicas(); return String(this.partitionGeneration);
      case 'rebalance-generation': return String(this.partitionGeneration);
      case 'cluster-name': return this.ctx.clusterName() ?? 'null';
      case 'peers-generation': this.peerList(); return String(this.peersGeneration);
      case 'peers-clear-std': case 'peers-clear-alt': case 'peers-tls-std': case 'peers-tls-alt':
      {
        const list = this.peerList();
        return `${this.peersGeneration},${this.port()},[${list}]`;
      }
      case 'service': case 'service-clear-std': case 'service-clear-alt': case 'service-tls-std': case 'service-tls-alt':
        return this.ctx.address();
      case 'services': case 'services-alumni': return '';
      case 'replicas': return this.replicas();
      case 'replicas-all': return this.replicas().replace(/:0,/g, ':');
      case 'replicas-master': {
        const { kernel: k } = this.ctx;
        const local = k.router.localNode;
        return k.namespaceNames().map((ns) => `${ns}:${bitmap((p) => k.router.masterOf(ns, p) === local)}`).join(';');
      }
      case 'rack-ids': return kernel.namespaceNames().map((ns) => `${ns}:${this.ctx.rackId?.() ?? 0}`).join(';');
      case 'namespaces': return kernel.namespaceNames().join(';');
      case 'namespace': {
        const ns = cmd.path[0] ?? '';
        if (!kernel.namespaceNames().includes(ns)) return 'type=unknown';
        return kv(await statistics(kernel, this.ctx, ns));
      }
      case 'get-config': {
        const context = cmd.params.get('context') ?? 'service';
        if (context === 'namespace') {
          const ns = kernel.namespace(need(cmd, 'id', 'namespace'));
          const c = ns.config;
          return `default-ttl=${c.defaultTtl};nsup-period=${c.nsupPeriod};allow-ttl-without-nsup=${c.nsupPeriod <= 0};max-record-size=${c.maxRecordBytes};replication-factor=${c.replicationFactor}`;
        }
        return `cluster-name=${this.ctx.clusterName() ?? 'null'};node-id=${this.ctx.nodeId.toString(16).toUpperCase()}`;
      }
      case 'set-config': case 'config-set': return this.setConfig(cmd);
      case 'quiesce': case 'quiesce-undo': return this.quiesce(cmd.name === 'quiesce');
      case 'recluster': return this.recluster();
      case 'statistics': return kv(await statistics(kernel, this.ctx));
      case 'sets': {
        const [ns, set] = cmd.path;
        if (ns !== undefined && ns !== '' && !kernel.namespaceNames().includes(ns)) return 'ns_type=unknown';
        const sets = (await setList(kernel, ns)).filter((s) => set === undefined || s.set === set);
        return sets.map((s) => `ns=${s.namespace}:set=${s.set}:objects=${s.records}:tombstones=0:truncate_lut=0:sindexes=${this.indexCount(s.namespace, s.set)}`).join(';') + (sets.length > 0 ? ';' : '');
      }
      case 'bins': {
        const names = cmd.path[0] === undefined || cmd.path[0] === '' ? kernel.namespaceNames() : [kernel.namespace(cmd.path[0]).name];
        return names.map((ns) => `${ns}:bin_names=${kernel.binNames(ns).length},bin_names_quota=65535,${kernel.binNames(ns).join(',')}`).join(';');
      }
      case 'sindex': case 'sindex-list': {
        const ns = cmd.path[0] ?? cmd.params.get('ns') ?? cmd.params.get('namespace');
        if (cmd.path.length >= 2) return this.indexStat(cmd.path[0] as string, cmd.path[1] as string);
        return this.indexes().list(ns === '' ? undefined : ns).map(indexLine).join(';') + '';
      }
      case 'sindex-stat': return this.indexStat(need(cmd, 'namespace', 'ns'), need(cmd, 'indexname'));
      case 'sindex-exists': {
        const ns = need(cmd, 'namespace', 'ns');
        return String(this.indexes().list(ns).some((i) => i.name === need(cmd, 'indexname')));
      }
      case 'sindex-create': return this.createIndex(cmd);
      case 'sindex-delete': {
        const ns = need(cmd, 'namespace', 'ns');
        const name = need(cmd, 'indexname');
        try {
          await this.indexes().drop(ns, name);
        } catch (err) {
          if (!(err instanceof DbError && err.code === 'INDEX_NOT_FOUND')) throw err;
        }
        return 'ok';
      }
      case 'udf-list': return this.udf().listModules().map((m) => `filename=${m.fileName},hash=${m.hash.slice(0, 40)},type=LUA;`).join('');
      case 'udf-get': {
        const m = this.udf().getModule(need(cmd, 'filename'));
        if (m === undefined) return 'error=not_found';
        return `type=LUA;content=${Buffer.from(m.source, 'utf8').toString('base64')};`;
      }
      case 'udf-put': return this.udfPut(cmd);
      case 'udf-remove': {
        const name = need(cmd, 'filename');
        if (this.udf().getModule(name) !== undefined) await this.udf().removeModule(name);
        return 'ok';
      }
      case 'truncate': case 'truncate-namespace': {
        const ns = need(cmd, 'namespace', 'ns');
        const set = cmd.params.get('set');
        if (cmd.name === 'truncate-namespace' && set !== undefined) throw new DbError('PARAMETER', 'truncate-namespace takes no set', { hint: 'use truncate:namespace=<ns>;set=<set>' });
        const lut = cmd.params.get('lut');
        let beforeMs: number | undefined;
        if (lut !== undefined && lut !== 'now') {
          const n = Number(lut);
          if (!Number.isFinite(n) || n <= 0) throw new DbError('PARAMETER', `lut=${lut} is not a time`, { hint: 'give nanoseconds since the Unix epoch, or now' });
          beforeMs = Math.floor(n / 1e6);
        }
        await kernel.truncate(ns, set === undefined || set === '' ? undefined : set, beforeMs);
        return 'ok';
      }
      case 'query-show': case 'scan-show': {
        const id = cmd.params.get('id') ?? cmd.params.get('trid');
        if (id === undefined) return this.jobs.list().join(';');
        const line = this.jobs.show(id);
        if (line === undefined) return infoError(2, 'job not found');
        return line;
      }
      case 'jobs': {
        const id = cmd.params.get('trid');
        if (id === undefined) return this.jobs.list().join(';');
        return this.jobs.show(id) ?? infoError(2, 'job not found');
      }
      case 'query-abort': case 'scan-abort': case 'query-kill': {
        const id = cmd.params.get('id') ?? cmd.params.get('trid') ?? '';
        return this.jobs.abort(id) ? 'ok' : infoError(2, 'id not active');
      }
      default:
        return infoError(4, 'unrecognized command');
    }
  }

  /** The cluster's other members as `[<NODEID>,,[host:port]]` entries; bumps peers-generation on change. */
  private peerList(): string {
    const s = [...this.ctx.peers()].sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((p) => `[${p.id.toString(16).toUpperCase()},,[${p.address}]]`).join(',');
    if (s !== this.lastPeers) {
      this.peersGeneration++;
      this.lastPeers = s;
    }
    return s;
  }

  private port(): string {
    const a = this.ctx.address();
    return a.slice(a.lastIndexOf(':') + 1);
  }

  private indexes() {
    const q = this.ctx.services.get(QUERY_SUBSYSTEM);
    if (q === undefined) throw new DbError('UNSUPPORTED_FEATURE', 'this node runs without secondary indexes');
    return q.indexes;
  }

  private indexCount(ns: string, set: string): number {
    const q = this.ctx.services.get(QUERY_SUBSYSTEM);
    return q === undefined ? 0 : q.indexes.list(ns).filter((i) => i.set === set).length;
  }

  private indexStat(ns: string, name: string): string {
    const s = this.indexes().list(ns).find((i) => i.name === name);
    if (s === undefined) return infoError(201, 'no index');
    return `entries=${s.entries};load_pct=${Math.floor(s.loadPct)};state=${s.state === 'ready' ? 'RW' : 'WO'};keys=${s.entries}`;
  }

  private async createIndex(cmd: InfoCommand): Promise<string> {
    const namespace = need(cmd, 'namespace', 'ns');
    const name = need(cmd, 'indexname');
    if (cmd.params.has('context') || cmd.params.has('exp')) {
      throw new DbError('UNSUPPORTED_FEATURE', 'indexes on a CDT context or an expression are not supported yet', { hint: 'index a bin (with indextype LIST, MAPKEYS or MAPVALUES for collections)' });
    }
    let bin = cmd.params.get('bin');
    let type = cmd.params.get('type');
    const data = cmd.params.get('indexdata');
    if (data !== undefined) [bin, type] = data.split(',');
    if (bin === undefined || bin === '' || type === undefined) throw new DbError('PARAMETER', 'sindex-create needs bin= and type= (or indexdata=<bin>,<type>)');
    const t = INDEX_TYPES[type.toUpperCase()];
    if (t === undefined) throw new DbError('PARAMETER', `index type ${type} is not known`, { hint: 'use NUMERIC, STRING, GEO2DSPHERE or BLOB' });
    const collection = COLLECTIONS[(cmd.params.get('indextype') ?? 'DEFAULT').toUpperCase()];
    if (collection === undefined) throw new DbError('PARAMETER', `indextype ${cmd.params.get('indextype')} is not known`, { hint: 'use DEFAULT, LIST, MAPKEYS or MAPVALUES' });
    const set = cmd.params.get('set');
    const def: IndexDefinition = { namespace, name, bin, type: t, collection, ...(set === undefined || set === '' ? {} : { set }) };
    const same = this.indexes().list(namespace).find((i) => i.name === name);
    if (same !== undefined) {
      if (same.bin === def.bin && same.type === def.type && same.collection === def.collection && same.set === def.set) return 'ok';
      throw new DbError('INDEX_FOUND', `index '${name}' already exists with another definition`);
    }
    await this.indexes().create(def);
    return 'ok';
  }

  private udf() {
    const e = this.ctx.services.get(UDF_ENGINE_KEY);
    if (e === undefined) throw new DbError('UNSUPPORTED_FEATURE', 'this node runs without UDFs');
    return e;
  }

  private async udfPut(cmd: InfoCommand): Promise<string> {
    const file = cmd.params.get('filename') ?? '';
    const content = cmd.params.get('content') ?? '';
    const fail = (kind: string, message: string): string => `error=${kind};file=${file};line=0;message=${Buffer.from(message, 'utf8').toString('base64')}`;
    if (!/\.[A-Za-z0-9]+$/.test(file)) return fail('invalid_filename', 'the module file name needs an extension: .js or .ts');
    if (!/\.(js|ts)$/.test(file)) {
      return fail('compile_error', `Slipstream runs JavaScript and TypeScript UDF modules (file names ending in .js or .ts); ${file} is not one (Lua modules are not supported)`);
    }
    if (content.length % 4 !== 0) return 'error=invalid_content_len';
    const source = Buffer.from(content, 'base64');
    if (source.toString('base64') !== content) return 'error=invalid_base64_content';
    try {
      await this.udf().register(file, source.toString('utf8'));
    } catch (err) {
      return fail('compile_error', toDbError(err).message);
    }
    return 'ok';
  }
}

function kv(stats: ReadonlyArray<readonly [string, string]>): string {
  return stats.map(([k, v]) => `${k}=${v}`).join(';');
}

function indexLine(s: IndexStatus): string {
  return `ns=${s.namespace}:indexname=${s.name}:set=${s.set ?? 'NULL'}:bin=${s.bin}:type=${s.type}:indextype=${s.collection}:context=NULL:state=${s.state === 'ready' ? 'RW' : 'WO'}`;
}
