import { status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { DbError, resultCodeName, type ResultCodeName } from '../errors/index.ts';
import { fromHeaderText, HINT_HEADER, IN_DOUBT_HEADER, RESULT_CODE_HEADER } from '../wire/status.ts';

const FROM_GRPC: Partial<Record<number, ResultCodeName>> = {
  [GrpcStatus.DEADLINE_EXCEEDED]: 'TIMEOUT',
  [GrpcStatus.UNAVAILABLE]: 'CONNECTION',
  [GrpcStatus.CANCELLED]: 'CLIENT_ABORT',
  [GrpcStatus.INVALID_ARGUMENT]: 'PARAMETER',
  [GrpcStatus.NOT_FOUND]: 'NOT_FOUND',
  [GrpcStatus.UNIMPLEMENTED]: 'UNSUPPORTED_FEATURE',
};

/** A gRPC error as a DbError, with the server's result code when it sent one. */
export function fromServiceError(err: ServiceError): DbError {
  const codeText = err.metadata?.get(RESULT_CODE_HEADER)[0];
  const rawHint = err.metadata?.get(HINT_HEADER)[0];
  const hint = typeof rawHint === 'string' ? fromHeaderText(rawHint) : undefined;
  const inDoubt = err.metadata?.get(IN_DOUBT_HEADER)[0] === 'true';
  let message = err.details || err.message;
  if (codeText !== undefined) {
    const num = Number(codeText);
    const name = resultCodeName(num) ?? (num >= 100 && num < 110 ? 'UDF' : 'SERVER_ERROR');
    // The server's details read "NAME (n): message. hint"; keep only the message.
    message = message.replace(/^\S+ \(-?\d+\): /, '');
    if (typeof hint === 'string' && message.endsWith(`. ${hint}`)) message = message.slice(0, -hint.length - 2);
    return new DbError(name, message, { resultCode: num, inDoubt, ...(typeof hint === 'string' ? { hint } : {}), cause: err });
  }
  if (err.code === GrpcStatus.RESOURCE_EXHAUSTED) {
    // without a result code this is the transport's own limit (a message over the cap): not
    // a busy key, and retrying the same message cannot succeed
    return new DbError('PARAMETER', message.replace(/^\d+ \w+: /, ''), {
      cause: err, hint: 'The request or its answer is larger than one gRPC message may be (16 MiB): split it (fewer keys, fewer bins, a smaller page)',
    });
  }
  if (/serialization failure/i.test(message)) {
    return new DbError('CLIENT_PARAM', message.replace(/^\d+ \w+: /, ''), { cause: err, hint: 'check the values sent: integers must fit in 64 bits' });
  }
  const name = FROM_GRPC[err.code] ?? 'CLIENT_ERROR';
  // a write whose deadline passed, or whose connection dropped once the request was sent, may
  // have been applied; a connection that was never made carried nothing
  const neverSent = name === 'CONNECTION' && /No connection established|ECONNREFUSED|Failed to connect/i.test(message);
  return new DbError(name, message, {
    cause: err,
    inDoubt: name === 'TIMEOUT' || (name === 'CONNECTION' && !neverSent),
    ...(name === 'CONNECTION' ? { hint: 'check that a node is running at the address given and reachable' } : {}),
  });
}
