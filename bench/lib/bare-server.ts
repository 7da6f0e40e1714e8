/**
 * A bare @grpc/grpc-js server that answers Put and Get with fixed, pre-built responses of the
 * same sizes Slipstream sends: the transport's own ceiling on this machine.
 * Prints its port on stdout.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { KeyValueServiceService } from '../../core/wire/generated/slipstream/v1/kv.ts';
import { SERVER_OPTIONS } from '../../core/server/grpc-server.ts';
import { GetResponse, type PutResponse } from '../../core/wire/generated/slipstream/v1/kv.ts';

/** The response to send, protobuf bytes in base64 (a real record's response from a node). */
const getResponse: GetResponse = GetResponse.decode(Buffer.from(process.argv[2] ?? '', 'base64'));
const putResponse: PutResponse = { meta: { generation: 1, ttl: -1n, lastUpdateMs: BigInt(Date.now()), voidTime: 0 } };

const server = new Server(SERVER_OPTIONS); // the node's own transport options
const impl = {
  put: (_c: unknown, cb: (e: null, r: PutResponse) => void) => cb(null, putResponse),
  get: (_c: unknown, cb: (e: null, r: GetResponse) => void) => cb(null, getResponse),
};
server.addService(KeyValueServiceService, impl as never);
server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  console.log(String(port));
});
process.on('SIGINT', () => process.exit(0));
