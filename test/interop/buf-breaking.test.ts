import { strict as assert } from 'node:assert';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bufBreaking, RELEASE_IMAGE, ROOT } from '../../scripts/buf-breaking.ts';
import { tempDir } from './interop-helpers.ts';

/**
 * proto/ against the last release (proto/releases/slipstream-v1.json) with buf's FILE rules: CI
 * fails when a change would break clients generated from the released protos.
 */
describe('proto compatibility (buf breaking)', function () {
  this.timeout(60_000);

  /** A copy of the buf workspace (buf.yaml + proto/slipstream) with kv.proto edited. */
  function editedCopy(edit: (kv: string) => string): ReturnType<typeof tempDir> {
    const t = tempDir('slipstream-breaking-');
    cpSync(join(ROOT, 'buf.yaml'), join(t.dir, 'buf.yaml'));
    cpSync(join(ROOT, 'proto/slipstream'), join(t.dir, 'proto/slipstream'), { recursive: true });
    const kv = join(t.dir, 'proto/slipstream/v1/kv.proto');
    const before = readFileSync(kv, 'utf8');
    const after = edit(before);
    assert.notEqual(after, before, 'the edit changed nothing');
    writeFileSync(kv, after);
    return t;
  }

  it('finds no breaking change in proto/ against the last release', () => {
    const r = bufBreaking();
    assert.ok(r.ok, `breaking changes against proto/releases/slipstream-v1.json:\n${r.output}\n` +
      'add fields and methods instead of changing them; reserve removed ones (docs/api.md#compatibility)');
  });

  it('the release snapshot holds the core services', () => {
    const image = JSON.parse(readFileSync(RELEASE_IMAGE, 'utf8')) as { file: { name: string; service?: { name: string }[] }[] };
    const services = image.file.flatMap((f) => (f.service ?? []).map((s) => s.name));
    for (const s of ['KeyValueService', 'AdminService', 'QueryService']) assert.ok(services.includes(s), `${s} missing from the release`);
  });

  it('detects a removed field and a changed field type in a deliberately broken copy', () => {
    const t = editedCopy((kv) => kv
      .replace(/\n\s*\/\/ Return metadata only\.\n\s*bool header_only = 3;\n/, '\n')
      .replace('uint64 max_records = 7;', 'string max_records = 7;'));
    try {
      const r = bufBreaking(t.dir);
      assert.equal(r.ok, false, 'buf breaking accepted a broken copy');
      assert.match(r.output, /header_only/);
      assert.match(r.output, /max_records/);
    } finally {
      t.remove();
    }
  });

  it('detects a removed RPC', () => {
    const t = editedCopy((kv) => kv.replace(/\n\s*\/\/ Removes every record[^\n]*\n\s*rpc Truncate\(TruncateRequest\) returns \(TruncateResponse\);/, ''));
    try {
      const r = bufBreaking(t.dir);
      assert.equal(r.ok, false);
      assert.match(r.output, /Truncate/);
    } finally {
      t.remove();
    }
  });

  it('accepts an additive change (a new field)', () => {
    const t = editedCopy((kv) => kv.replace('  uint64 max_records = 7;\n', '  uint64 max_records = 7;\n  // A new, optional knob.\n  uint32 records_per_second = 99;\n'));
    try {
      const r = bufBreaking(t.dir);
      assert.ok(r.ok, r.output);
    } finally {
      t.remove();
    }
  });
});
