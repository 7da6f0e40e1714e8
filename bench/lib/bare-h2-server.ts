/**
 * A bare node:http2 server that answers every gRPC call with one fixed, pre-framed message and
 * grpc-status 0, with no gRPC library at all: what node's HTTP/2 itself costs a unary call on
 * this machine (the floor under grpc-js and under Slipstream's gRPC services).
 * Prints its port on stdout. Run: node bench/lib/bare-h2-server.ts <response protobuf, base64>
 */
import { createServer } from 'node:http2';

const body = Buffer.from(process.argv[2] ?? '', 'base64');
const framed = Buffer.allocUnsafe(5 + body.length);
framed[0] = 0;
framed.writeUInt32BE(body.length, 1);
body.copy(framed, 5);

const server = createServer();
server.on('stream', (stream) => {
  stream.on('data', () => {});
  stream.on('end', () => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(framed);
  });
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  console.log(String(typeof a === 'object' && a !== null ? a.port : 0));
});
process.on('SIGINT', () => process.exit(0));
