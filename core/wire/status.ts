import { Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { clientErrorName, DbError, toDbError, type ResultCodeName } from '../errors/index.ts';

export const RESULT_CODE_HEADER = 'slipstream-result-code';
export const RESULT_NAME_HEADER = 'slipstream-result-name';
export const HINT_HEADER = 'slipstream-hint';
export const IN_DOUBT_HEADER = 'slipstream-in-doubt';
/**
 * Trailer on an answer the node got from another node (it forwarded the request to the
 * partition's master, or to the masters of some keys of a batch): a client routing by the
 * partition map learns that its map is stale.
 */
export const PROXIED_HEADER = 'slipstream-proxied';

/**
 * A header value from any text: characters outside printable ASCII, and '%', are
 * percent-encoded (UTF-8), as gRPC encodes its own status message; grpc-js throws (and the
 * process dies) on a header value with other characters.
 */
export function headerText(text: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(text) ? text : text.replace(/[^\x20-\x24\x26-\x7e]+/gu, (s) => encodeURIComponent(s));
}

/** The text of a header value written by headerText. */
export function fromHeaderText(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The one table from result codes to gRPC status codes; unlisted codes are INTERNAL. */
const MAPPING: Partial<Record<ResultCodeName, GrpcStatus>> = {
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  INDEX_NOT_FOUND: GrpcStatus.NOT_FOUND,
  ELEMENT_NOT_FOUND: GrpcStatus.NOT_FOUND,
  BIN_NOT_FOUND: GrpcStatus.NOT_FOUND,
  RECORD_EXISTS: GrpcStatus.ALREADY_EXISTS,
  BIN_EXISTS: GrpcStatus.ALREADY_EXISTS,
  ELEMENT_EXISTS: GrpcStatus.ALREADY_EXISTS,
  INDEX_FOUND: GrpcStatus.ALREADY_EXISTS,
  GENERATION: GrpcStatus.FAILED_PRECONDITION,
  FILTERED_OUT: GrpcStatus.FAILED_PRECONDITION,
  OP_NOT_APPLICABLE: GrpcStatus.FAILED_PRECONDITION,
  FORBIDDEN: GrpcStatus.FAILED_PRECONDITION,
  ALWAYS_FORBIDDEN: GrpcStatus.FAILED_PRECONDITION,
  LOST_CONFLICT: GrpcStatus.FAILED_PRECONDITION,
  PARAMETER: GrpcStatus.INVALID_ARGUMENT,
  NAMESPACE: GrpcStatus.INVALID_ARGUMENT,
  BIN_NAME: GrpcStatus.INVALID_ARGUMENT,
  BIN_TYPE: GrpcStatus.INVALID_ARGUMENT,
  RECORD_TOO_BIG: GrpcStatus.INVALID_ARGUMENT,
  KEY_MISMATCH: GrpcStatus.INVALID_ARGUMENT,
  GEO_INVALID_GEOJSON: GrpcStatus.INVALID_ARGUMENT,
  INDEX_NAME_MAXLEN: GrpcStatus.INVALID_ARGUMENT,
  INDEX_GENERIC: GrpcStatus.INVALID_ARGUMENT,
  QUERY_GENERIC: GrpcStatus.INVALID_ARGUMENT,
  KEY_BUSY: GrpcStatus.RESOURCE_EXHAUSTED,
  OUT_OF_SPACE: GrpcStatus.RESOURCE_EXHAUSTED,
  DEVICE_OVERLOAD: GrpcStatus.RESOURCE_EXHAUSTED,
  INDEX_OOM: GrpcStatus.RESOURCE_EXHAUSTED,
  INDEX_MAXCOUNT: GrpcStatus.RESOURCE_EXHAUSTED,
  BATCH_MAX_REQUESTS: GrpcStatus.RESOURCE_EXHAUSTED,
  BATCH_QUEUES_FULL: GrpcStatus.RESOURCE_EXHAUSTED,
  QUERY_QUEUE_FULL: GrpcStatus.RESOURCE_EXHAUSTED,
  TIMEOUT: GrpcStatus.DEADLINE_EXCEEDED,
  QUERY_TIMEOUT: GrpcStatus.DEADLINE_EXCEEDED,
  UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  CLUSTER_KEY_MISMATCH: GrpcStatus.UNAVAILABLE,
  INDEX_NOT_READABLE: GrpcStatus.UNAVAILABLE,
  UNSUPPORTED_FEATURE: GrpcStatus.UNIMPLEMENTED,
  ENTERPRISE_ONLY: GrpcStatus.UNIMPLEMENTED,
  BATCH_DISABLED: GrpcStatus.UNIMPLEMENTED,
  SCAN_ABORT: GrpcStatus.ABORTED,
  QUERY_ABORTED: GrpcStatus.ABORTED,
  UDF: GrpcStatus.ABORTED,
  NOT_AUTHENTICATED: GrpcStatus.UNAUTHENTICATED,
  INVALID_USER: GrpcStatus.UNAUTHENTICATED,
  INVALID_PASSWORD: GrpcStatus.UNAUTHENTICATED,
  INVALID_CREDENTIAL: GrpcStatus.UNAUTHENTICATED,
  EXPIRED_SESSION: GrpcStatus.UNAUTHENTICATED,
  EXPIRED_PASSWORD: GrpcStatus.UNAUTHENTICATED,
  ROLE_VIOLATION: GrpcStatus.PERMISSION_DENIED,
  NOT_WHITELISTED: GrpcStatus.PERMISSION_DENIED,
  QUOTA_EXCEEDED: GrpcStatus.RESOURCE_EXHAUSTED,
  USER_ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  ROLE_ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  INVALID_ROLE: GrpcStatus.INVALID_ARGUMENT,
  INVALID_PRIVILEGE: GrpcStatus.INVALID_ARGUMENT,
  INVALID_WHITELIST: GrpcStatus.INVALID_ARGUMENT,
  INVALID_QUOTA: GrpcStatus.INVALID_ARGUMENT,
  FORBIDDEN_PASSWORD: GrpcStatus.INVALID_ARGUMENT,
  INVALID_FIELD: GrpcStatus.INVALID_ARGUMENT,
  INVALID_COMMAND: GrpcStatus.INVALID_ARGUMENT,
  SECURITY_NOT_ENABLED: GrpcStatus.FAILED_PRECONDITION,
  SECURITY_NOT_SUPPORTED: GrpcStatus.UNIMPLEMENTED,
  SECURITY_SCHEME_NOT_SUPPORTED: GrpcStatus.UNIMPLEMENTED,
  QUOTAS_NOT_ENABLED: GrpcStatus.FAILED_PRECONDITION,
  ILLEGAL_STATE: GrpcStatus.FAILED_PRECONDITION,
  SERVER_ERROR: GrpcStatus.INTERNAL,
};

export function grpcStatusFor(err: DbError): GrpcStatus {
  return MAPPING[err.code] ?? GrpcStatus.INTERNAL;
}

/** A DbError (or anything thrown) as a gRPC error with the result code in trailing metadata. */
export function toServiceError(thrown: unknown): Partial<ServiceError> & { code: GrpcStatus; details: string; metadata: Metadata } {
  const err = toDbError(thrown);
  const metadata = new Metadata();
  metadata.set(RESULT_CODE_HEADER, String(err.resultCode));
  metadata.set(RESULT_NAME_HEADER, clientErrorName(err.resultCode));
  if (err.hint !== undefined) metadata.set(HINT_HEADER, headerText(err.hint));
  if (err.inDoubt) metadata.set(IN_DOUBT_HEADER, 'true');
  const hint = err.hint === undefined ? '' : `. ${err.hint}`;
  return {
    code: grpcStatusFor(err),
    details: `${clientErrorName(err.resultCode)} (${err.resultCode}): ${err.message}${hint}`,
    metadata,
  };
}
