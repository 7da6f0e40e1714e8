/**
 * Wraps every method of a gRPC service implementation, by the shape of its call, for what sits
 * in front of each method (the security guard, the metrics): unary calls, server streams, and
 * calls that stream requests (client streams, with a callback, and bidirectional ones). A shape
 * given no wrapper keeps its methods as they are, as does anything that is not a method.
 */
import type { Metadata, MethodDefinition, sendUnaryData, ServerUnaryCall, ServerWritableStream, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';

export type UnaryMethod = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => void;
export type ServerStreamMethod = (call: ServerWritableStream<unknown, unknown>) => void;
/** What client-streaming and bidirectional calls both have. */
export interface RequestStreamCall {
  readonly metadata: Metadata;
  getPeer(): string;
  emit(event: 'error', err: unknown): boolean;
}
export type RequestStreamMethod = (call: RequestStreamCall, callback?: sendUnaryData<unknown>) => void;

/** One wrapper per call shape; each gets the method, its definition and its name in the service. */
export interface MethodWrappers {
  readonly unary?: (method: UnaryMethod, definition: MethodDefinition<unknown, unknown>, name: string) => UnaryMethod;
  readonly serverStream?: (method: ServerStreamMethod, definition: MethodDefinition<unknown, unknown>, name: string) => ServerStreamMethod;
  readonly requestStream?: (method: RequestStreamMethod, definition: MethodDefinition<unknown, unknown>, name: string) => RequestStreamMethod;
}

export function wrapMethods<I extends UntypedServiceImplementation>(definition: ServiceDefinition<I>, implementation: I, wrappers: MethodWrappers): I {
  const out: Record<string, unknown> = { ...implementation };
  for (const [name, def] of Object.entries(definition) as [string, MethodDefinition<unknown, unknown>][]) {
    const fn = implementation[name as keyof I] as unknown;
    if (typeof fn !== 'function') continue;
    if (def.requestStream) {
      if (wrappers.requestStream !== undefined) out[name] = wrappers.requestStream(fn as RequestStreamMethod, def, name);
    } else if (def.responseStream) {
      if (wrappers.serverStream !== undefined) out[name] = wrappers.serverStream(fn as ServerStreamMethod, def, name);
    } else if (wrappers.unary !== undefined) {
      out[name] = wrappers.unary(fn as UnaryMethod, def, name);
    }
  }
  return out as I;
}
