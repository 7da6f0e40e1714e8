/**
 * Bare Aerospike protocol servers, to split a request's cost on the real node:
 * - `fixed`: node:net sockets, frames cut from the stream, every request answered with one
 *   fixed, pre-built AS_MSG answer (result 0, generation 1): what node's sockets themselves cost
 *   a request on this machine, the floor under Slipstream's front end;
 * - `front-end`: the front end itself (connection, codec, kernel) on a bare in-memory kernel and
 *   a plain node:net server — no node port, cluster, metrics or other subsystems;
 * - `connection`: the front end's connection (framing, idle timer, one request at a time) with
 *   a handler that answers the fixed answer.
 * Prints its port on stdout. Run: node bench/lib/bare-as-server.ts [fixed|front-end]
 */
import { createServer } from 'node:net';
import { response } from '../../core/server/aerospike/message.ts';
import { Kernel } from '../../core/transaction/kernel.ts';
import { Namespace } from '../../core/storage/namespace.ts';
import { GuardedEngine } from '../../core/storage/guarded-engine.ts';
import { singleNodeRouter } from '../../core/transaction/routing.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { silentLogger, type Clock } from '../../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS } from '../../core/model/index.ts';
import { ServiceLocator } from '../../core/services/locator.ts';
import { AerospikeFrontEnd } from '../../core/server/aerospike/front-end.ts';
import { AerospikeConnection } from '../../core/server/aerospike/connection.ts';
import { DEFAULT_MAX_FRAME_BYTES } from '../../core/server/aerospike/protocol.ts';

const mode = process.argv[2] ?? 'fixed';
const answer = Buffer.from(response({ resultCode: 0, generation: 1 }));

async function frontEnd(): Promise<AerospikeFrontEnd> {
  const clock = { now: () => Date.now() } as unknown as Clock;
  const cfg = { name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS };
  const storage = await memoryStorage().create({ nodeId: 1n, logger: silentLogger, clock, signal: new AbortController().signal }, cfg, {});
  const kernel = new Kernel({ namespaces: [new Namespace(cfg, new GuardedEngine(storage, 'storage-memory'))], clock, router: singleNodeRouter(1n), logger: silentLogger });
  return new AerospikeFrontEnd({
    kernel, services: new ServiceLocator(), nodeId: 1n, startedAtMs: Date.now(), version: 'bench', address: () => '127.0.0.1:0',
    clusterName: () => undefined, peers: () => [], logger: silentLogger,
  });
}

const fe = mode === 'front-end' ? await frontEnd() : undefined;
const server = createServer({ noDelay: true }, (socket) => {
  if (fe !== undefined) { fe.accept(socket); return; }
  if (mode === 'connection') {
    new AerospikeConnection(socket, (_type, _body, reply) => reply.send(answer), { maxFrameBytes: DEFAULT_MAX_FRAME_BYTES, idleTimeoutMs: 60_000 });
    return;
  }
  let pending: Buffer | undefined;
  socket.on('error', () => socket.destroy());
  socket.on('data', (d: Buffer) => {
    const b = pending === undefined ? d : Buffer.concat([pending, d]);
    pending = undefined;
    let o = 0;
    while (b.length - o >= 8) {
      const size = b.readUIntBE(o + 2, 6);
      if (b.length - o < 8 + size) break;
      o += 8 + size;
      socket.write(answer);
    }
    if (o < b.length) pending = b.subarray(o);
  });
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  console.log(String(typeof a === 'object' && a !== null ? a.port : 0));
});
process.on('SIGINT', () => process.exit(0));
