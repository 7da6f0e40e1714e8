/**
 * Numbers of Aerospike's client-server protocol (as/include/base/proto.h): message types,
 * header flags, field and operation codes, particle types. Byte layouts are described where
 * they are read and written (message.ts, framing.ts).
 */

/** The proto header: version, type, 48-bit body size. */
export const PROTO_VERSION = 2;
export const PROTO_HEADER_BYTES = 8;

export const MessageType = {
  INFO: 1,
  ADMIN: 2,
  MESSAGE: 3,
  COMPRESSED: 4,
} as const;

/** The AS_MSG header after the proto header. */
export const MSG_HEADER_BYTES = 22;

export const Info1 = {
  READ: 0x01,
  GET_ALL: 0x02,
  SHORT_QUERY: 0x04,
  BATCH: 0x08,
  NOBINDATA: 0x20,
  COMPRESS_RESPONSE: 0x80,
} as const;

export const Info2 = {
  WRITE: 0x01,
  DELETE: 0x02,
  GENERATION: 0x04,
  GENERATION_GT: 0x08,
  DURABLE_DELETE: 0x10,
  CREATE_ONLY: 0x20,
  RESPOND_ALL_OPS: 0x80,
} as const;

export const Info3 = {
  LAST: 0x01,
  COMMIT_MASTER: 0x02,
  PARTITION_DONE: 0x04,
  UPDATE_ONLY: 0x08,
  CREATE_OR_REPLACE: 0x10,
  REPLACE_ONLY: 0x20,
} as const;

export const Field = {
  NAMESPACE: 0,
  SET: 1,
  KEY: 2,
  DIGEST: 4,
  TASK_ID: 7,
  SOCKET_TIMEOUT: 9,
  RECS_PER_SEC: 10,
  PID_ARRAY: 11,
  DIGEST_ARRAY: 12,
  MAX_RECORDS: 13,
  BVAL_ARRAY: 15,
  INDEX_NAME: 21,
  INDEX_RANGE: 22,
  INDEX_CONTEXT: 23,
  INDEX_EXPRESSION: 24,
  INDEX_TYPE: 26,
  UDF_PACKAGE_NAME: 30,
  UDF_FUNCTION: 31,
  UDF_ARGLIST: 32,
  UDF_OP: 33,
  QUERY_BINLIST: 40,
  BATCH_INDEX: 41,
  BATCH_INDEX_WITH_SET: 42,
  FILTER: 43,
} as const;

export const Op = {
  READ: 1,
  WRITE: 2,
  CDT_READ: 3,
  CDT_MODIFY: 4,
  INCR: 5,
  EXP_READ: 7,
  EXP_MODIFY: 8,
  APPEND: 9,
  PREPEND: 10,
  TOUCH: 11,
  BIT_READ: 12,
  BIT_MODIFY: 13,
  DELETE: 14,
  HLL_READ: 15,
  HLL_MODIFY: 16,
} as const;

export const Particle = {
  NULL: 0,
  INTEGER: 1,
  FLOAT: 2,
  STRING: 3,
  BLOB: 4,
  BOOL: 17,
  HLL: 18,
  MAP: 19,
  LIST: 20,
  GEOJSON: 23,
} as const;

/** Aerospike counts void times from 2010-01-01T00:00:00Z. */
export const CITRUSLEAF_EPOCH_SECONDS = 1262304000;

/** A record's void time (Unix seconds, 0 = never) as the wire has it. */
export function wireVoidTime(voidTime: number): number {
  return voidTime === 0 ? 0 : Math.max(1, voidTime - CITRUSLEAF_EPOCH_SECONDS) >>> 0;
}

/** Largest body the port accepts by default (Aerospike's PROTO_SIZE_MAX is 128 MiB). */
export const DEFAULT_MAX_FRAME_BYTES = 128 * 1024 * 1024;

/** The build the node reports: it decides what the official clients send (C client 7.4 gates on 8.1.0.0). */
export const AEROSPIKE_BUILD = '8.1.0.0';
