import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';

/** A response already in protobuf bytes (from a fast path); sent as is. */
export class EncodedResponse {
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }
}

/**
 * A copy of a service definition whose listed methods also accept EncodedResponse from their
 * handlers, so a fast path can answer with bytes and the ordinary path with a message.
 */
export function acceptingEncoded<S extends ServiceDefinition>(service: S, methods: readonly (keyof S & string)[]): S {
  const out: Record<string, MethodDefinition<unknown, unknown>> = { ...service };
  for (const m of methods) {
    const def = service[m] as MethodDefinition<unknown, unknown>;
    out[m] = {
      ...def,
      responseSerialize: (v: unknown) => (v instanceof EncodedResponse
        ? Buffer.from(v.bytes.buffer, v.bytes.byteOffset, v.bytes.length)
        : def.responseSerialize(v)),
    };
  }
  return out as S;
}
