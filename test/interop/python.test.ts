import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { findTool, protoc, requireTools, ROOT, run, startInteropNode, tempDir, type InteropNode } from './interop-helpers.ts';

/**
 * The Python example (examples/python) against a real node: stubs generated from proto/ with
 * protoc and the gRPC Python plugin, grpcio from Debian (python3-grpcio, python3-protobuf).
 * The example asserts every answer and exits non-zero at the first wrong one.
 */
describe('interop: Python client (grpcio)', function () {
  this.timeout(60_000);
  let node: InteropNode;
  let stubs: ReturnType<typeof tempDir>;
  let python: string;

  before(async () => {
    // Debian's grpcio is for the system Python; a pyenv or venv python3 on PATH may lack it.
    const tools = requireTools({
      python3: findTool('/usr/bin/python3', 'python3'),
      protoc: findTool('protoc'),
      grpc_python_plugin: findTool('grpc_python_plugin'),
    });
    python = tools.python3 as string;
    stubs = tempDir('slipstream-pystubs-');
    protoc(tools.protoc as string, (out) => [`--python_out=${out}`, `--grpc_python_out=${out}`, `--plugin=protoc-gen-grpc_python=${tools.grpc_python_plugin}`], stubs.dir);
    node = await startInteropNode();
  });

  after(async () => {
    await node?.stop();
    stubs?.remove();
  });

  const example = join(ROOT, 'examples/python/example.py');

  it('runs put, get with policies, operate, batch get, scan, query, aggregate and error handling against a node', async () => {
    const r = await run(python, [example, '--address', node.address, '--stubs', stubs.dir]);
    assert.equal(r.code, 0, r.output);
    const m = /python example: (\d+) checks passed/.exec(r.output);
    assert.ok(m !== null, r.output);
    assert.ok(Number(m[1]) >= 35, `only ${m[1]} checks ran:\n${r.output}`);
    assert.doesNotMatch(r.output, /^FAIL /m);
  });

  it('exits non-zero when an answer is wrong (a namespace the node does not have)', async () => {
    const r = await run(python, [example, '--address', node.address, '--stubs', stubs.dir, '--namespace', 'absent']);
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /FAIL namespace absent exists/);
  });

  it('sees the server result code in the trailing metadata from raw grpcio', async () => {
    // The same without the helper module: what a user writing bare grpcio code reads.
    const script = `
import sys, grpc
sys.path.insert(0, ${JSON.stringify(stubs.dir)})
from slipstream.v1 import kv_pb2, kv_pb2_grpc, types_pb2
stub = kv_pb2_grpc.KeyValueServiceStub(grpc.insecure_channel(${JSON.stringify(node.address)}))
try:
    stub.Get(kv_pb2.GetRequest(key=types_pb2.Key(namespace="test", set="raw", string_key="missing")), timeout=5)
    sys.exit("Get of a missing record succeeded")
except grpc.RpcError as e:
    md = dict(e.trailing_metadata())
    print(e.code().name, md["slipstream-result-code"], md["slipstream-result-name"])
`;
    const r = await run(python, ['-c', script]);
    assert.equal(r.code, 0, r.output);
    assert.equal(r.output.trim(), 'NOT_FOUND 2 AEROSPIKE_ERR_RECORD_NOT_FOUND');
  });
});
