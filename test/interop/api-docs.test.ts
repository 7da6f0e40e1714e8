import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { API_DOC_PATH, buildDescriptors, renderApiDocs, type DescriptorSet } from '../../scripts/api-docs.ts';
import { ResultCode, clientErrorName } from '../../core/errors/index.ts';

/** docs/api.md is generated from proto/ by scripts/api-docs.ts and must match the protos. */
describe('API reference (docs/api.md)', function () {
  this.timeout(30_000);
  let set: DescriptorSet;
  let doc: string;

  before(() => {
    set = buildDescriptors();
    doc = readFileSync(API_DOC_PATH, 'utf8');
  });

  it('is what the protos generate (run `npm run docs:api` after changing a proto)', () => {
    const want = renderApiDocs(set);
    if (want !== doc) {
      const a = want.split('\n'), b = doc.split('\n');
      const i = a.findIndex((line, k) => line !== b[k]);
      assert.fail(`docs/api.md is stale: run \`npm run docs:api\` and commit it. First difference at line ${i + 1}:\n  generated: ${a[i]}\n  committed: ${b[i]}`);
    }
  });

  it('covers every service, method, message, field and enum value of every proto', () => {
    let count = 0;
    const has = (what: string, text: string): void => { count++; assert.ok(doc.includes(text), `docs/api.md lacks ${what}`); };
    for (const f of set.file.filter((x) => x.name.startsWith('slipstream/'))) {
      for (const s of f.service ?? []) {
        has(`service ${s.name}`, `### ${s.name}\n`);
        for (const m of s.method ?? []) has(`rpc ${s.name}.${m.name}`, `\`/${f.package}.${s.name}/${m.name}\``);
      }
      const msg = (m: NonNullable<typeof f.messageType>[number], prefix: string): void => {
        if (m.options?.mapEntry === true) return;
        const name = `${prefix}${m.name}`;
        has(`message ${name}`, `#### ${name}\n`);
        const section = doc.slice(doc.indexOf(`#### ${name}\n`)).split('\n#### ')[0] ?? '';
        for (const fd of m.field ?? []) { count++; assert.ok(section.includes(`| \`${fd.name}\` | ${fd.number} |`), `docs/api.md lacks field ${name}.${fd.name}`); }
        for (const n of m.nestedType ?? []) msg(n, `${name}.`);
        for (const e of m.enumType ?? []) for (const v of e.value ?? []) has(`enum value ${v.name}`, `| \`${v.name}\` | ${v.number} |`);
      };
      for (const m of f.messageType ?? []) msg(m, '');
      for (const e of f.enumType ?? []) {
        has(`enum ${e.name}`, `#### enum ${e.name}\n`);
        for (const v of e.value ?? []) has(`enum value ${v.name}`, `| \`${v.name}\` | ${v.number} |`);
      }
    }
    assert.ok(count > 300, `only ${count} elements checked`);
  });

  it('lists every result code with its client name', () => {
    for (const [name, code] of Object.entries(ResultCode)) {
      assert.ok(doc.includes(`| ${code} | \`${name}\` | \`${clientErrorName(code)}\` |`), `result code ${name} missing`);
    }
    assert.match(doc, /\| `NOT_FOUND` \| NOT_FOUND \(2\), BIN_NOT_FOUND \(17\)/);
  });

  it('refuses a proto element without a comment', () => {
    const bare: DescriptorSet = {
      file: [{
        name: 'slipstream/v1/bare.proto', package: 'slipstream.v1',
        messageType: [{ name: 'Bare', field: [{ name: 'x', number: 1, type: 'TYPE_STRING' }] }],
        sourceCodeInfo: { location: [{ path: [4, 0], leadingComments: ' A message.\n' }] },
      }],
    };
    assert.throws(() => renderApiDocs(bare), /without a comment[\s\S]*field \.slipstream\.v1\.Bare\.x/);
  });
});
