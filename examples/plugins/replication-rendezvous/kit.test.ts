import { replicationStrategyKit } from 'slipstream/testing';
import { rendezvousReplication } from './index.ts';

replicationStrategyKit({ plugin: rendezvousReplication(), failureDomains: ['rack'] });
replicationStrategyKit({ plugin: rendezvousReplication(), name: 'replication-rendezvous (zones)', options: { spreadOver: 'zone' }, failureDomains: ['zone'] });
