import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AqlSession } from '../../../core/aql/shell/session.ts';
import { createAqlExecutor } from '../../../core/aql/exec/statements.ts';
import { queryExtension } from '../../../core/node/extensions/query.ts';
import { QUERY_SUBSYSTEM } from '../../../core/services/index.ts';
import { startTestNode, type TestNode } from '../../helpers/node-harness.ts';
import { expectFile } from '../../aql/fixture-util.ts';

/** Fixture folders: input.aql runs against a fresh in-process node; expected.txt is stdout + stderr. */
const ROOT = join(import.meta.dirname, 'fixtures');

describe('query AQL statements (fixtures)', () => {
  for (const name of ['ddl', 'queries', 'geo', 'errors']) {
    const dir = join(ROOT, name);
    it(name, async () => {
      const t: TestNode = await startTestNode({ extensions: [queryExtension()] });
      try {
        let text = '';
        const sink = { out: (s: string) => { text += s; }, err: (s: string) => { text += s; } };
        const q = t.node.services.require(QUERY_SUBSYSTEM);
        const executor = createAqlExecutor(t.node);
        const session = new AqlSession(async (stmt, _text, settings, out, signal) => {
          await executor.execute(stmt, { settings, signal, nodeAddress: '127.0.0.1:3000', now: () => Date.now() }, out);
          // index builds finish before the next statement, so fixtures are deterministic
          for (const st of q.indexes.list()) await q.indexes.whenReady(st.namespace, st.name);
        }, sink);
        await session.run(readFileSync(join(dir, 'input.aql'), 'utf8'), { echo: true });
        const normalised = text.replace(/\(\d+\.\d{3} secs?\)/g, '(x.xxx secs)')
          .replace(/("build_ms" +\| )(\d+)( *)\|/g, (_m, a: string, d: string, sp: string) => `${a}N${' '.repeat(d.length - 1 + sp.length)}|`);
        assert.equal(normalised, expectFile(dir, 'expected.txt', normalised));
      } finally {
        await t.stop();
      }
    });
  }
});
