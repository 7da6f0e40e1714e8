import { Metadata, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from '../plugin-api/index.ts';
import { DbError, toDbError } from '../errors/index.ts';
import { EncodedResponse } from './wire/encoded.ts';
import { PROXIED_HEADER, toServiceError } from '../wire/status.ts';
import { watchProxying } from '../transaction/forwarding.ts';
import { refuseUnknownFields } from './unknown-fields.ts';
import { ScanJob } from '../transaction/scan-scheduler.ts';

/**
 * Adapts an async handler to grpc-js: whatever it throws becomes a gRPC error with the
 * result code attached; nothing a request does can crash the node.
 */
export function unary<Req, Res>(logger: Logger, name: string, fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    let done = false;
    let pending: Promise<{ readonly value: Res; readonly proxied: boolean }>;
    try {
      refuseUnknownFields(call.request, name);
      pending = watchProxying(() => fn(call.request, call));
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (res) => { done = true; callback(null, res.value, res.proxied ? proxiedTrailer() : undefined); },
      (err: unknown) => {
        if (done) return;
        const e = toDbError(err);
        if (e.code === 'SERVER_ERROR') logger.error({ err, rpc: name }, 'request failed');
        const se = toServiceError(e);
        if ((err as { proxied?: boolean } | null)?.proxied === true) se.metadata.set(PROXIED_HEADER, 'true');
        callback(se, null);
      },
    );
  };
}

function proxiedTrailer(): Metadata {
  const md = new Metadata();
  md.set(PROXIED_HEADER, 'true');
  return md;
}

/** Limits on server streams (scans, queries, aggregations): how many run, and what one may buffer. */
export const STREAM_LIMITS = {
  /** Streams running at once in this process (one node). */
  perNode: 128,
  /** Streams running at once from one client connection (peer address). */
  perConnection: 16,
  /** Bytes written to a stream and not yet taken by the transport; the producer waits above this. */
  bufferedBytes: 2 * 1024 * 1024,
};

const running = { total: 0, byPeer: new Map<string, number>() };

/** Takes a stream slot or refuses with QUERY_QUEUE_FULL; returns the release function. */
function takeStreamSlot(peer: string): () => void {
  const mine = running.byPeer.get(peer) ?? 0;
  if (running.total >= STREAM_LIMITS.perNode) {
    throw new DbError('QUERY_QUEUE_FULL', `${running.total} scans and queries are running on this node, the most it runs at once`, { hint: 'Retry later, or run fewer scans at a time' });
  }
  if (mine >= STREAM_LIMITS.perConnection) {
    throw new DbError('QUERY_QUEUE_FULL', `this connection runs ${mine} scans and queries, the most one connection may`, { hint: 'Finish or cancel some scans before starting more' });
  }
  running.total++;
  running.byPeer.set(peer, mine + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    running.total--;
    const n = (running.byPeer.get(peer) ?? 1) - 1;
    if (n <= 0) running.byPeer.delete(peer);
    else running.byPeer.set(peer, n);
  };
}

/** Bytes a stream item will take on the wire (pre-encoded responses exactly, others roughly). */
function sizeOf(item: unknown): number {
  return item instanceof EncodedResponse ? item.bytes.length : 1024;
}

/**
 * Adapts an async generator to a server-streaming call, with cancellation and back-pressure:
 * the generator waits while the transport holds more than STREAM_LIMITS.bufferedBytes of its
 * output (a client that stops reading stops the scan, not the node's memory), and a node runs
 * at most STREAM_LIMITS.perNode streams (perConnection from one connection).
 */
export function serverStream<Req, Res>(logger: Logger, name: string, fn: (req: Req, signal: AbortSignal, call: ServerWritableStream<Req, Res>) => AsyncIterable<Res>) {
  return (call: ServerWritableStream<Req, Res>): void => {
    const ac = new AbortController();
    call.on('cancelled', () => ac.abort());
    call.on('close', () => ac.abort());
    // the stream's work runs in turns (scan-scheduler.ts): unary requests are served between them
    const job = new ScanJob();
    void job.run(async () => {
      let release: (() => void) | undefined;
      try {
        refuseUnknownFields(call.request, name);
        release = takeStreamSlot(call.getPeer());
        await job.resume();
        let inflight = 0;
        let wake: (() => void) | undefined;
        for await (const item of fn(call.request, ac.signal, call)) {
          if (ac.signal.aborted) return;
          const size = sizeOf(item);
          inflight += size;
          const accepted = call.write(item, () => {
            inflight -= size;
            if (wake !== undefined && inflight <= STREAM_LIMITS.bufferedBytes) wake();
          });
          if (!accepted || inflight > STREAM_LIMITS.bufferedBytes) {
            // waiting for the client to read: the turn goes to others meanwhile
            job.pause();
            await new Promise<void>((resolve) => {
              const done = (): void => {
                wake = undefined;
                call.off('drain', onDrain);
                ac.signal.removeEventListener('abort', done);
                resolve();
              };
              const onDrain = (): void => { if (inflight <= STREAM_LIMITS.bufferedBytes) done(); };
              wake = done;
              call.on('drain', onDrain);
              ac.signal.addEventListener('abort', done);
            });
            await job.resume();
          } else {
            const turn = job.checkpoint();
            if (turn !== undefined) await turn;
          }
        }
        call.end();
      } catch (err) {
        if (ac.signal.aborted) return;
        const e = toDbError(err);
        if (e.code === 'SERVER_ERROR') logger.error({ err, rpc: name }, 'stream failed');
        call.emit('error', toServiceError(e));
      } finally {
        job.end();
        release?.();
      }
    });
  };
}
