import { strict as assert } from 'node:assert';
import { createRequire } from 'node:module';
import { loadFileDescriptorSetFromBuffer, loadSync } from '@grpc/proto-loader';
import { credentials, loadPackageDefinition, Metadata, type Client, type GrpcObject, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { buildDescriptors } from '../../scripts/api-docs.ts';
import { startInteropNode, type InteropNode } from './interop-helpers.ts';

const require = createRequire(import.meta.url);

interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}
type ReflectionStream = NodeJS.ReadWriteStream & { write(m: object): boolean; end(): void; on(e: 'data', f: (m: ReflectionResponse) => void): ReflectionStream; on(e: 'error', f: (e: Error) => void): ReflectionStream };
type Unary = (req: object, md: Metadata, opts: { deadline: number }, cb: (e: ServiceError | null, r: Record<string, unknown>) => void) => void;

/** Encodes FileDescriptorProto bytes as a FileDescriptorSet (field 1, repeated, length-delimited). */
function descriptorSet(files: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const len: number[] = [];
    let n = f.length;
    do { len.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0)); n >>>= 7; } while (n > 0);
    parts.push(Buffer.from([0x0a, ...len]), f);
  }
  return Buffer.concat(parts);
}

/**
 * What grpcurl does, without any .proto file: list the services over server reflection, fetch
 * their file descriptors, build a client from those alone and call the node with plain JSON.
 */
describe('interop: reflection-based generic client (grpcurl-style)', function () {
  this.timeout(60_000);
  let node: InteropNode;
  let reflection: Client & { serverReflectionInfo(): ReflectionStream };

  before(async () => {
    node = await startInteropNode();
    const def = loadSync(require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto'), { longs: String, defaults: false });
    const pkg = loadPackageDefinition(def) as unknown as { grpc: { reflection: { v1: { ServerReflection: new (a: string, c: ReturnType<typeof credentials.createInsecure>) => typeof reflection } } } };
    reflection = new pkg.grpc.reflection.v1.ServerReflection(node.address, credentials.createInsecure());
  });

  after(async () => {
    reflection?.close();
    await node?.stop();
  });

  /** One request on a reflection stream. */
  function ask(request: object): Promise<ReflectionResponse> {
    return new Promise((resolve, reject) => {
      const stream = reflection.serverReflectionInfo();
      stream.on('data', (m) => { resolve(m); stream.end(); });
      stream.on('error', reject);
      stream.write(request);
    });
  }

  async function listServices(): Promise<string[]> {
    return ((await ask({ listServices: '' })).listServicesResponse?.service ?? []).map((s) => s.name).sort();
  }

  /** The descriptors of the files defining these symbols, with their dependencies, deduplicated. */
  async function descriptorsFor(symbols: string[]): Promise<Buffer> {
    const files = new Map<string, Buffer>();
    for (const symbol of symbols) {
      const r = await ask({ fileContainingSymbol: symbol });
      assert.equal(r.errorResponse, undefined, `reflection has no ${symbol}: ${r.errorResponse?.errorMessage}`);
      for (const b of r.fileDescriptorResponse?.fileDescriptorProto ?? []) files.set(b.toString('base64'), b);
    }
    return descriptorSet([...files.values()]);
  }

  it('lists the slipstream services, each defined in proto/ ("grpcurl list")', async () => {
    const listed = await listServices();
    const defined = buildDescriptors().file.filter((f) => f.name.startsWith('slipstream/'))
      .flatMap((f) => (f.service ?? []).map((s) => `${f.package}.${s.name}`));
    // Services are registered by the extensions that implement them; each listed one must be defined.
    for (const s of listed.filter((x) => x.startsWith('slipstream.'))) assert.ok(defined.includes(s), `${s} is served but not in proto/`);
    // (grpc.health.v1.Health is served but not listed: reflection describes proto/ only.)
    for (const s of ['slipstream.v1.KeyValueService', 'slipstream.v1.AdminService', 'slipstream.v1.QueryService']) {
      assert.ok(listed.includes(s), `${s} not listed: ${listed.join(', ')}`);
    }
  });

  it('describes services with the same methods as proto/ ("grpcurl describe")', async () => {
    const served = (await listServices()).filter((x) => x.startsWith('slipstream.'));
    const pkg = loadPackageDefinition(loadFileDescriptorSetFromBuffer(await descriptorsFor(served)));
    const fromProtos = new Map<string, string[]>(buildDescriptors().file.flatMap((f) => (f.service ?? []).map((s) => [`${f.package}.${s.name}`, (s.method ?? []).map((m) => m.name).sort()])));
    for (const name of served) {
      const ctor = name.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], pkg) as ServiceClientConstructor;
      const methods = Object.values(ctor.service).map((m) => m.originalName ?? '').sort();
      assert.deepEqual(methods.map((m) => m.charAt(0).toUpperCase() + m.slice(1)), fromProtos.get(name), name);
    }
  });

  it('calls the node with JSON through a client built from reflected descriptors alone', async () => {
    const pkg = loadPackageDefinition(loadFileDescriptorSetFromBuffer(await descriptorsFor(['slipstream.v1.KeyValueService']),
      { longs: String, enums: String, oneofs: true, defaults: false })) as GrpcObject;
    const Kv = ((pkg['slipstream'] as GrpcObject)['v1'] as GrpcObject)['KeyValueService'] as ServiceClientConstructor;
    const kv = new Kv(node.address, credentials.createInsecure()) as unknown as Record<string, Unary> & Client;
    const call = (method: string, req: object): Promise<Record<string, unknown>> => new Promise((resolve, reject) => {
      const md = new Metadata();
      const fn = kv[method] as Unary;
      fn.call(kv, req, md, { deadline: Date.now() + 5000 }, (e, r) => (e ? reject(e) : resolve(r)));
    });
    try {
      // The same JSON as the grpcurl examples in docs/api.md (int64 as strings).
      const key = { namespace: 'test', set: 'refl', stringKey: 'k1' };
      const put = await call('Put', { key, bins: [{ name: 'name', value: { string: 'Ada' } }, { name: 'age', value: { int: '36' } }], policy: { sendKey: true } });
      assert.equal((put['meta'] as { generation: number }).generation, 1);
      const got = await call('Get', { key, bins: ['age'] });
      const bins = (got['record'] as { bins: { name: string; value: { int: string } }[] }).bins;
      assert.deepEqual(bins.map((b) => [b.name, b.value.int]), [['age', '36']]);

      const err = await call('Get', { key: { ...key, stringKey: 'missing' } }).then(() => undefined, (e: ServiceError) => e);
      assert.ok(err !== undefined, 'Get of a missing record succeeded');
      assert.equal(err.code, 5); // NOT_FOUND
      assert.equal(err.metadata.get('slipstream-result-code')[0], '2');
      assert.equal(err.metadata.get('slipstream-result-name')[0], 'AEROSPIKE_ERR_RECORD_NOT_FOUND');
    } finally {
      kv.close();
    }
  });

  it('answers NOT_FOUND for a symbol it does not serve', async () => {
    const r = await ask({ fileContainingSymbol: 'slipstream.v1.NoSuchService' });
    assert.ok(r.errorResponse !== undefined, 'reflection described a service that does not exist');
    assert.equal(r.errorResponse.errorCode, 5);
  });
});
