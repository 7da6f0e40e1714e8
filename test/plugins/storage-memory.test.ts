import { storageEngineKit } from 'slipstream/testing';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';

storageEngineKit({ plugin: memoryStorage(), capabilities: { durable: false } });
