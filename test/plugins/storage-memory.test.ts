import { describeStorageEngine } from '../conformance/storage-engine.suite.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { silentLogger, systemClock } from '../../core/plugin-api/index.ts';
import { NAMESPACE_DEFAULTS } from '../../core/model/index.ts';

describeStorageEngine({
  name: 'storage-memory',
  open: () => memoryStorage().create(
    { nodeId: 1n, logger: silentLogger, clock: systemClock, signal: new AbortController().signal },
    { name: 'test', storage: 'storage-memory', ...NAMESPACE_DEFAULTS },
    {},
  ),
});
