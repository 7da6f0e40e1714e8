/** The guide's example plugins (examples/plugins) pass their kits, as their authors run them. */
import '../../examples/plugins/storage-append-log/kit.test.ts';
import '../../examples/plugins/replication-rendezvous/kit.test.ts';
import '../../examples/plugins/retransmit-capped-backoff/kit.test.ts';
