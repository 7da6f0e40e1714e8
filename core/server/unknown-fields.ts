import protobuf from 'protobufjs';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { DbError } from '../errors/index.ts';
import { MAX_VALUE_DEPTH } from '../model/index.ts';

/**
 * Refuses requests that carry protobuf fields this server does not know (sent by a newer client,
 * or one built from other protos): the generated decoders skip such fields, so without this a
 * field the server cannot honour would be ignored silently. Each request's bytes are walked
 * against the protos' descriptors (protobufjs reflection, loaded once) before the handler runs;
 * a field number the message does not define, at any depth, fails the call with PARAMETER
 * naming the field and where it was. The walk reads tags and lengths only (no decoding).
 */

const PROTO_ROOT = fileURLToPath(new URL('../../proto', import.meta.url));
const UNKNOWN_FIELD = Symbol('unknownField');
const UNDECODABLE = Symbol('undecodable');

interface Found {
  readonly path: string;
  readonly field: number;
}

let root: protobuf.Root | undefined;

export function protoRoot(): protobuf.Root {
  if (root === undefined) {
    const r = new protobuf.Root();
    r.resolvePath = (_origin, target) => join(PROTO_ROOT, target);
    const dir = join(PROTO_ROOT, 'slipstream/v1');
    r.loadSync(readdirSync(dir).filter((f) => f.endsWith('.proto')).map((f) => `slipstream/v1/${f}`));
    r.resolveAll();
    root = r;
  }
  return root;
}

/** The first field in `bytes` that `type` (or a message type nested in it) does not define. */
export function findUnknownField(bytes: Uint8Array, type: protobuf.Type, path = ''): Found | undefined {
  const reader = protobuf.Reader.create(bytes);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const number = tag >>> 3;
    const wireType = tag & 7;
    const field = type.fieldsById[number];
    if (field === undefined) return { path, field: number };
    if (wireType === 2 && field.resolvedType instanceof protobuf.Type) {
      const length = reader.uint32();
      const start = reader.pos;
      reader.skip(length);
      const index = field.repeated ? '[…]' : '';
      const found = findUnknownField(bytes.subarray(start, start + length), field.resolvedType, `${path === '' ? '' : `${path}.`}${field.name}${index}`);
      if (found !== undefined) return found;
    } else {
      reader.skipType(wireType);
    }
  }
  return undefined;
}

/**
 * The service definition with each request decoder also looking for unknown fields; what it
 * finds rides on the decoded request and is refused by refuseUnknownFields before the handler.
 * A request the generated decoder cannot decode at all (bad wire bytes, nesting past the
 * decoder's recursion limit) is not grpc-js's INTERNAL "Error deserializing request": the
 * handler gets an empty request carrying the reason, and refuseUnknownFields answers PARAMETER.
 */
export function checkingUnknownFields<D extends ServiceDefinition>(definition: D): D {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    const serviceName = method.path.split('/')[1] as string;
    const methodName = method.path.split('/')[2] as string;
    const type = protoRoot().lookupService(serviceName).methods[methodName]?.resolvedRequestType;
    if (type === null || type === undefined) {
      out[name] = method;
      continue;
    }
    const decode = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        let request: object;
        let found: Found | undefined;
        try {
          request = decode(bytes) as object;
          found = findUnknownField(bytes, type);
        } catch (err) {
          const empty = decode(Buffer.alloc(0)) as object;
          Object.defineProperty(empty, UNDECODABLE, { value: err instanceof Error ? err.message : String(err), enumerable: false });
          return empty;
        }
        if (found !== undefined) Object.defineProperty(request, UNKNOWN_FIELD, { value: found, enumerable: false });
        return request;
      },
    };
  }
  return out as D;
}

/**
 * Fails a request that checkingUnknownFields could not decode, or found carrying a field this
 * server does not know, with PARAMETER.
 */
export function refuseUnknownFields(request: unknown, rpc: string): void {
  if (typeof request !== 'object' || request === null) return;
  const reason = (request as { [UNDECODABLE]?: string })[UNDECODABLE];
  if (reason !== undefined) {
    throw new DbError('PARAMETER', `${rpc}: the request cannot be decoded: ${reason}`, {
      hint: /recursion|depth|call stack/i.test(reason)
        ? `values may nest at most ${MAX_VALUE_DEPTH} levels (lists and maps in lists and maps); flatten the value`
        : 'send a request encoded from this server\'s protos (a damaged or foreign message was sent)',
    });
  }
  const found = (request as { [UNKNOWN_FIELD]?: Found })[UNKNOWN_FIELD];
  if (found === undefined) return;
  throw new DbError('PARAMETER', `${rpc}: the request has field ${found.field} ${found.path === '' ? 'at its top level' : `in ${found.path}`}, which this server does not know`, {
    hint: 'the client was built from newer protos than this server supports: leave the field out, or upgrade the server',
  });
}
