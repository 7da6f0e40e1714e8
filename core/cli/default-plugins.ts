import type { Plugin } from '../plugin-api/index.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import { lmdbStorage } from '../../plugins/storage-lmdb/index.ts';
import { globalKeyReplication } from '../../plugins/replication-global-key/index.ts';
import { rackAwareReplication } from '../../plugins/replication-rack-aware/index.ts';
import { zoneAwareReplication } from '../../plugins/replication-zone-aware/index.ts';
import { basicRetransmit } from '../../plugins/retransmit-basic/index.ts';
import { throttleRetransmit } from '../../plugins/retransmit-throttle/index.ts';

/** The plugins every node binary registers. */
export function defaultPlugins(): Plugin[] {
  return [
    memoryStorage(), lmdbStorage(),
    globalKeyReplication(), rackAwareReplication(), zoneAwareReplication(),
    basicRetransmit(), throttleRetransmit(),
  ];
}
