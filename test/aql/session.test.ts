/**
 * Session fixtures: input.aql runs through the session and executor against an in-process
 * kernel (memory storage); the transcript (stdout and stderr in order, timings zeroed) must
 * equal expected.txt.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Kernel } from '../../core/transaction/kernel.ts';
import { Namespace } from '../../core/storage/namespace.ts';
import { GuardedEngine } from '../../core/storage/guarded-engine.ts';
import { singleNodeRouter } from '../../core/transaction/routing.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { silentLogger } from '../../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS } from '../../core/model/index.ts';
import { ManualClock } from '../helpers/manual-clock.ts';
import { AqlSession } from '../../core/aql/shell/session.ts';
import { createAqlExecutor } from '../../core/aql/exec/statements.ts';
import { ServiceLocator } from '../../core/services/index.ts';
import { caseDirs, expectFile } from './fixture-util.ts';

export async function testKernel(): Promise<{ kernel: Kernel; clock: ManualClock }> {
  const clock = new ManualClock();
  const namespaces = [];
  for (const name of ['test', 'ns1', 'users']) {
    const cfg = { ...NAMESPACE_DEFAULTS, name, storage: 'storage-memory' };
    const engine = await memoryStorage().create({ nodeId: 1n, logger: silentLogger, clock, signal: new AbortController().signal }, cfg, {});
    namespaces.push(new Namespace(cfg, new GuardedEngine(engine, 'storage-memory')));
  }
  return { kernel: new Kernel({ namespaces, clock, router: singleNodeRouter(1n), logger: silentLogger }), clock };
}

export function zeroTimes(text: string): string {
  return text.replace(/\(\d+\.\d{3} secs?\)/g, '(0.000 secs)');
}

describe('aql session fixtures (in-process kernel)', () => {
  for (const dir of caseDirs('session')) {
    it(basename(dir), async () => {
      const { kernel, clock } = await testKernel();
      let transcript = '';
      const sink = { out: (t: string) => { transcript += t; }, err: (t: string) => { transcript += t; } };
      const executor = createAqlExecutor({ kernel, services: new ServiceLocator() });
      const session = new AqlSession((stmt, _text, settings, out, signal) => executor.execute(stmt, {
        settings, signal, nodeAddress: '127.0.0.1:3000', now: () => clock.now(),
      }, out), sink, dir);
      const input = readFileSync(join(dir, 'input.aql'), 'utf8');
      await session.run(input, { echo: true });
      const actual = zeroTimes(transcript);
      assert.equal(actual, expectFile(dir, 'expected.txt', actual));
    });
  }
});
