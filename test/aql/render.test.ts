import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { renderResult, type StatementResult } from '../../core/aql/shell/render/renderer.ts';
import { formatG, cellText } from '../../core/aql/shell/render/values.ts';
import type { OutputMode } from '../../core/aql/language/settings.ts';
import { caseDirs, expectFile, fromPlain } from './fixture-util.ts';

describe('aql renderer fixtures', () => {
  for (const dir of caseDirs('render')) {
    it(basename(dir), () => {
      const input = fromPlain(JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'))) as StatementResult & { mode: OutputMode; types: boolean };
      const { stdout, stderr } = renderResult(input, input.mode, { types: input.types });
      const actual = stdout + (stderr === '' ? '' : `--- stderr ---\n${stderr}`);
      assert.equal(actual, expectFile(dir, 'expected.txt', actual));
    });
  }
});

describe('aql value formatting', () => {
  it('doubles print as C %.16g', () => {
    assert.equal(formatG(1.2), '1.2');
    assert.equal(formatG(51264.333333333336), '51264.33333333334');
    assert.equal(formatG(3), '3');
    assert.equal(formatG(1e300), '1e+300');
    assert.equal(formatG(0.0001), '0.0001');
    assert.equal(formatG(0.00001), '1e-05');
    assert.equal(formatG(1234567890123456789), '1.234567890123457e+18');
  });
  it('cells: strings quoted, 64-bit integers exact, nil empty', () => {
    assert.equal(cellText('abc'), '"abc"');
    assert.equal(cellText(2n ** 63n - 1n), '9223372036854775807');
    assert.equal(cellText(null), '');
    assert.equal(cellText(new Uint8Array([0xca, 0xf2])), 'CA F2');
  });
});
