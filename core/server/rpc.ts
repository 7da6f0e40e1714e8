import type { sendUnaryData, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from '../plugin-api/index.ts';
import { toDbError } from '../errors/index.ts';
import { toServiceError } from '../wire/status.ts';
import { refuseUnknownFields } from './unknown-fields.ts';

/**
 * Adapts an async handler to grpc-js: whatever it throws becomes a gRPC error with the
 * result code attached; nothing a request does can crash the node.
 */
export function unary<Req, Res>(logger: Logger, name: string, fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    let done = false;
    let pending: Promise<Res>;
    try {
      refuseUnknownFields(call.request, name);
      pending = fn(call.request, call);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (res) => { done = true; callback(null, res); },
      (err: unknown) => {
        if (done) return;
        const e = toDbError(err);
        if (e.code === 'SERVER_ERROR') logger.error({ err, rpc: name }, 'request failed');
        callback(toServiceError(e), null);
      },
    );
  };
}

/** Adapts an async generator to a server-streaming call, with back-pressure and cancellation. */
export function serverStream<Req, Res>(logger: Logger, name: string, fn: (req: Req, signal: AbortSignal, call: ServerWritableStream<Req, Res>) => AsyncIterable<Res>) {
  return (call: ServerWritableStream<Req, Res>): void => {
    const ac = new AbortController();
    call.on('cancelled', () => ac.abort());
    call.on('close', () => ac.abort());
    (async () => {
      try {
        refuseUnknownFields(call.request, name);
        for await (const item of fn(call.request, ac.signal, call)) {
          if (ac.signal.aborted) return;
          if (!call.write(item)) {
            await new Promise<void>((resolve) => {
              const done = (): void => { call.off('drain', done); ac.signal.removeEventListener('abort', done); resolve(); };
              call.on('drain', done);
              ac.signal.addEventListener('abort', done);
            });
          }
        }
        call.end();
      } catch (err) {
        if (ac.signal.aborted) return;
        const e = toDbError(err);
        if (e.code === 'SERVER_ERROR') logger.error({ err, rpc: name }, 'stream failed');
        call.emit('error', toServiceError(e));
      }
    })();
  };
}
