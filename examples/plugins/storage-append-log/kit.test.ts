/** Run with `npx mocha kit.test.ts` in a project that depends on slipstream (or in the suite). */
import { storageEngineKit } from 'slipstream/testing';
import { appendLogStorage } from './index.ts';

storageEngineKit({ plugin: appendLogStorage(), capabilities: { durable: true }, options: (dir) => ({ dataDir: dir }) });
storageEngineKit({ plugin: appendLogStorage(), name: 'storage-append-log (fsync)', capabilities: { durable: true }, options: (dir) => ({ dataDir: dir, fsync: true }) });
