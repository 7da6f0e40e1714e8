/**
 * The AqlService: AQL text and session settings in, a stream of result events out. Statements
 * run through the node's AQL executor (core/aql/exec); a cancelled call
 * aborts the running statement.
 */
import { DbError } from '../../errors/index.ts';
import type { Logger } from '../../plugin-api/index.ts';
import type { StatisticsIdentity } from '../../transaction/statistics.ts';
import { runAqlScript, type AqlEvent } from '../../aql/exec/script.ts';
import type { AqlExecutor } from '../../aql/exec/executor.ts';
import { DEFAULT_SETTINGS, parseSettingValue, type Settings } from '../../aql/language/settings.ts';
import type { AqlServiceServer, AqlSettings, ExecuteResponse } from '../../wire/generated/slipstream/v1/aql.ts';
import { toPbValue } from '../../wire/convert.ts';
import { approxValueBytes } from '../../model/index.ts';
import { serverStream } from '../rpc.ts';
import { clientErrorName } from '../../errors/index.ts';

/** Largest AQL text one call accepts, bytes. */
export const MAX_AQL_TEXT = 1024 * 1024;

/** Settings from the request; unset fields keep aql's defaults, bad values are PARAMETER errors. */
export function settingsFromPb(pb: AqlSettings | undefined): Settings {
  if (pb === undefined) return DEFAULT_SETTINGS;
  const s: { -readonly [K in keyof Settings]: Settings[K] } = { ...DEFAULT_SETTINGS };
  if (pb.timeoutMs !== undefined) s.TIMEOUT = pb.timeoutMs;
  if (pb.recordTtl !== undefined) s.RECORD_TTL = parseSettingValue('RECORD_TTL', pb.recordTtl.toString()) as number;
  if (pb.keySend !== undefined) s.KEY_SEND = pb.keySend;
  if (pb.durableDelete !== undefined) s.DURABLE_DELETE = pb.durableDelete;
  if (pb.recordPrintMetadata !== undefined) s.RECORD_PRINT_METADATA = pb.recordPrintMetadata;
  if (pb.noBins !== undefined) s.NO_BINS = pb.noBins;
  if (pb.scanRecordsPerSecond !== undefined) s.SCAN_RECORDS_PER_SECOND = pb.scanRecordsPerSecond;
  if (pb.outputTypes !== undefined) s.OUTPUT_TYPES = pb.outputTypes;
  if (pb.output !== '') s.OUTPUT = parseSettingValue('OUTPUT', pb.output) as Settings['OUTPUT'];
  return s;
}

function toPbEvent(e: AqlEvent): ExecuteResponse {
  switch (e.kind) {
    case 'statement': return { event: { $case: 'statement', value: { index: e.index, text: e.text, line: e.line } } };
    case 'header': return { event: { $case: 'header', value: { columns: [...e.columns] } } };
    case 'row': return { event: { $case: 'row', value: { cells: e.cells.map(([name, v]) => ({ name, value: toPbValue(v) })) } } };
    case 'end': return { event: { $case: 'end', value: { rows: BigInt(e.rows), elapsedMs: e.elapsedMs, node: e.node } } };
    case 'message': return { event: { $case: 'message', value: { text: e.text } } };
    case 'status': return {
      event: {
        $case: 'status',
        value: {
          code: e.code, name: clientErrorName(e.code), message: e.message, hint: e.hint,
          ...(e.syntax === undefined ? {} : { syntaxError: { ...e.syntax, expected: [...e.syntax.expected] } }),
        },
      },
    };
  }
}

/** Bytes of AQL output held for a client that has not taken it yet; the statement waits above this. */
export const AQL_QUEUE_BYTES = 2 * 1024 * 1024;

/** An event's rough size on the wire (rows by their values). */
function eventBytes(e: AqlEvent): number {
  if (e.kind !== 'row') return 64;
  let n = 16;
  for (const [name, v] of e.cells) n += name.length + approxValueBytes(v);
  return n;
}

/**
 * A bounded hand-over from a producer that pushes to a consumer that pulls: push() returns a
 * promise while the queue is full (`high` events or `highBytes` bytes), so a fast scan waits
 * for a slow client, and a statement over large records holds a bounded amount of output.
 */
class EventQueue<T> {
  private readonly items: Array<{ item: T; bytes: number }> = [];
  private readonly high: number;
  private readonly highBytes: number;
  private bytes = 0;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;
  private done = false;
  private failure: unknown;
  constructor(high = 256, highBytes = AQL_QUEUE_BYTES) { this.high = high; this.highBytes = highBytes; }
  private full(): boolean {
    return this.items.length >= this.high || this.bytes >= this.highBytes;
  }
  push(item: T, bytes: number): Promise<void> | undefined {
    this.items.push({ item, bytes });
    this.bytes += bytes;
    this.wakeConsumer?.();
    if (!this.full()) return undefined;
    return new Promise<void>((resolve) => { this.wakeProducer = resolve; });
  }
  close(err?: unknown): void {
    this.done = true;
    this.failure = err;
    this.wakeConsumer?.();
  }
  /** Releases a waiting producer (the consumer went away). */
  release(): void {
    this.wakeProducer?.();
  }
  async *drain(): AsyncGenerator<T> {
    for (;;) {
      while (this.items.length > 0) {
        const next = this.items.shift() as { item: T; bytes: number };
        this.bytes -= next.bytes;
        yield next.item;
        if (this.items.length < this.high / 2 && this.bytes < this.highBytes / 2 && this.wakeProducer !== undefined) {
          const w = this.wakeProducer;
          this.wakeProducer = undefined;
          w();
        }
      }
      if (this.done) {
        if (this.failure !== undefined) throw this.failure;
        return;
      }
      await new Promise<void>((resolve) => { this.wakeConsumer = resolve; });
      this.wakeConsumer = undefined;
    }
  }
}

export interface AqlServiceDeps {
  /** The node's AQL executor (its kernel, services and statements). */
  readonly executor: AqlExecutor;
  readonly logger: Logger;
  /** host:port of this node, read when a statement runs (the port is bound after start). */
  readonly nodeAddress: () => string;
  readonly identity?: StatisticsIdentity;
}

export function aqlHandlers(deps: AqlServiceDeps): AqlServiceServer {
  return {
    execute: serverStream(deps.logger, 'Aql.Execute', async function* (req, signal): AsyncIterable<ExecuteResponse> {
      if (Buffer.byteLength(req.text) > MAX_AQL_TEXT) {
        throw new DbError('PARAMETER', `the AQL text is ${Buffer.byteLength(req.text)} bytes; at most ${MAX_AQL_TEXT} are accepted`, { hint: 'send the statements in several calls' });
      }
      const settings = settingsFromPb(req.settings);
      const files = new Map(req.files.map((f) => [f.path, f.content]));
      const queue = new EventQueue<ExecuteResponse>();
      signal.addEventListener('abort', () => queue.release(), { once: true });
      const run = runAqlScript({
        text: req.text,
        settings,
        signal,
        executor: deps.executor,
        context: {
          nodeAddress: deps.nodeAddress(),
          now: () => deps.executor.kernel.clock.now(),
          ...(deps.identity === undefined ? {} : { identity: deps.identity }),
          readClientFile: async (path) => {
            const content = files.get(path);
            if (content === undefined) {
              throw new DbError('PARAMETER', `the client did not send the file '${path}'`, { hint: 'the client reads files a statement names (REGISTER MODULE) and sends them in ExecuteRequest.files' });
            }
            return content;
          },
        },
        emit: (e) => (signal.aborted ? undefined : queue.push(toPbEvent(e), eventBytes(e))),
      });
      run.then(() => queue.close(), (err: unknown) => queue.close(err));
      yield* queue.drain();
    }),
  };
}
