import { Client, credentials, Metadata, type MethodDefinition, type ServiceError } from '@grpc/grpc-js';
import { RESULT_CODE_HEADER } from '../../core/wire/status.ts';
import { SecurityServiceService } from '../../core/wire/generated/slipstream/v1/security.ts';

/** The outcome of one raw call: 0 for success, else the result code from the trailers (-1 without one). */
export interface Outcome<T = unknown> {
  readonly code: number;
  readonly message: string;
  readonly value?: T;
}

function outcomeOf<T>(err: ServiceError): Outcome<T> {
  const c = err.metadata?.get(RESULT_CODE_HEADER)[0];
  return { code: typeof c === 'string' ? Number(c) : -1, message: err.details ?? err.message };
}

/** Calls any method (unary or server stream) of any service with the given metadata. */
export function rawCall<Req, Res>(client: Client, def: MethodDefinition<Req, Res>, request: Req, md = new Metadata()): Promise<Outcome<Res>> {
  return new Promise((resolve) => {
    if (!def.responseStream) {
      client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, request, md, { deadline: Date.now() + 15_000 }, (err, value) => {
        resolve(err ? outcomeOf(err) : { code: 0, message: '', ...(value === undefined ? {} : { value }) });
      });
      return;
    }
    const stream = client.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, request, md, { deadline: Date.now() + 15_000 });
    let done = false;
    stream.on('data', () => undefined);
    stream.on('error', (err: ServiceError) => { if (!done) { done = true; resolve(outcomeOf(err)); } });
    stream.on('end', () => { if (!done) { done = true; resolve({ code: 0, message: '' }); } });
  });
}

export function rawClient(port: number): Client {
  return new Client(`127.0.0.1:${port}`, credentials.createInsecure());
}

export function bearer(token: string): Metadata {
  const md = new Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

/** Logs in over gRPC and returns the token; throws with the outcome when refused. */
export async function login(client: Client, user: string, password: string): Promise<string> {
  const r = await rawCall(client, SecurityServiceService.login, { user, password });
  if (r.code !== 0 || r.value === undefined) throw new Error(`login ${user} failed: ${r.code} ${r.message}`);
  return r.value.token;
}
