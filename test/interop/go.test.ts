import { strict as assert } from 'node:assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { findTool, protoFiles, protoc, requireTools, ROOT, run, startInteropNode, tempDir, type InteropNode } from './interop-helpers.ts';

/**
 * The Go example (examples/go) against a real node: code generated from proto/ with
 * protoc-gen-go and protoc-gen-go-grpc, built offline in GOPATH mode against Debian's Go
 * sources (/usr/share/gocode; no module downloads). The example checks every answer and exits
 * non-zero at the first wrong one.
 */
describe('interop: Go client (grpc-go)', function () {
  this.timeout(120_000);
  let node: InteropNode;
  let work: ReturnType<typeof tempDir>;
  let binary: string;

  before(async () => {
    const tools = requireTools({
      go: findTool('/usr/lib/go/bin/go', 'go'),
      protoc: findTool('protoc'),
      'protoc-gen-go': findTool('protoc-gen-go'),
      'protoc-gen-go-grpc': findTool('protoc-gen-go-grpc'),
    });
    work = tempDir('slipstream-go-');
    const src = join(work.dir, 'gopath/src');
    mkdirSync(src, { recursive: true });
    // The protos have no go_package option: map each to the import path "slipstream/v1".
    const opts = ['paths=source_relative', ...protoFiles().map((f) => `M${f}=slipstream/v1;slipstreamv1`)].join(',');
    protoc(tools.protoc as string, (out) => [`--go_out=${out}`, `--go_opt=${opts}`, `--go-grpc_out=${out}`, `--go-grpc_opt=${opts}`], src);
    binary = join(work.dir, 'slipstream-go-example');
    const env = {
      GO111MODULE: 'off', GOFLAGS: '', GOPROXY: 'off', CGO_ENABLED: '0',
      GOPATH: `${join(work.dir, 'gopath')}:/usr/share/gocode`,
      // Kept between runs (in the temp folder) so that only the first build compiles grpc-go.
      GOCACHE: process.env.GOCACHE ?? join(tmpdir(), 'slipstream-go-build-cache'),
    };
    const [build, started] = await Promise.all([
      run(tools.go as string, ['build', '-o', binary, '.'], { cwd: join(ROOT, 'examples/go'), env, timeoutMs: 110_000 }),
      startInteropNode(),
    ]);
    node = started;
    assert.equal(build.code, 0, `go build failed:\n${build.output}`);
  });

  after(async () => {
    await node?.stop();
    work?.remove();
  });

  it('runs health, put, get, errors by result code, operate, batch get, scan and aggregate against a node', async () => {
    const r = await run(binary, ['-address', node.address]);
    assert.equal(r.code, 0, r.output);
    const m = /go example: (\d+) checks passed/.exec(r.output);
    assert.ok(m !== null, r.output);
    assert.ok(Number(m[1]) >= 14, `only ${m[1]} checks ran:\n${r.output}`);
  });

  it('exits non-zero when a call fails (a namespace the node does not have)', async () => {
    const r = await run(binary, ['-address', node.address, '-namespace', 'absent']);
    assert.equal(r.code, 1, r.output);
    assert.match(r.output, /^FAIL put ada: .*AEROSPIKE_ERR_NAMESPACE_NOT_FOUND|^FAIL put ada: .*namespace/m);
  });
});
