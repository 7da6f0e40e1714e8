/**
 * A bare @grpc/grpc-js server that answers Put and Get with fixed, pre-built responses of the
 * same sizes Slipstream sends: the transport's own ceiling on this machine.
 * Prints its port on stdout.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { KeyValueServiceService } from '../../core/server/generated/slipstream/v1/kv.ts';
import type { GetResponse, PutResponse } from '../../core/server/generated/slipstream/v1/kv.ts';

const getResponse: GetResponse = JSON.parse(process.argv[2] ?? '{}', (_k, v: unknown) =>
  (typeof v === 'string' && v.startsWith('bigint:') ? BigInt(v.slice(7)) : typeof v === 'string' && v.startsWith('bytes:') ? Buffer.from(v.slice(6), 'base64') : v)) as GetResponse;
const putResponse: PutResponse = { meta: { generation: 1, ttl: -1n, lastUpdateMs: BigInt(Date.now()) } };

const server = new Server();
const impl = {
  put: (_c: unknown, cb: (e: null, r: PutResponse) => void) => cb(null, putResponse),
  get: (_c: unknown, cb: (e: null, r: GetResponse) => void) => cb(null, getResponse),
};
server.addService(KeyValueServiceService, impl as never);
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(String(port));
});
