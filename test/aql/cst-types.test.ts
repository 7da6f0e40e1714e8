import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { CST_TYPES_PATH, cstTypesSource } from '../../scripts/aql-cst-types.ts';

/** core/aql/language/cst-types.ts is generated from the AQL grammar and must match it. */
describe('AQL CST types (core/aql/language/cst-types.ts)', () => {
  it('are what the grammar generates (run `npm run aql:cst` after changing parser.ts)', () => {
    const want = cstTypesSource();
    const have = readFileSync(CST_TYPES_PATH, 'utf8');
    if (want !== have) {
      const a = want.split('\n'), b = have.split('\n');
      const i = a.findIndex((line, k) => line !== b[k]);
      assert.fail(`cst-types.ts is stale: run \`npm run aql:cst\` and commit it. First difference at line ${i + 1}:\n  generated: ${a[i]}\n  committed: ${b[i]}`);
    }
  });
});
