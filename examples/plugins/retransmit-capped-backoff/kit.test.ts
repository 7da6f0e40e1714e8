import { retransmitStrategyKit } from 'slipstream/testing';
import { cappedBackoffRetransmit } from './index.ts';

retransmitStrategyKit({
  plugin: cappedBackoffRetransmit(),
  options: { firstDelayMs: 50, maxAttempts: 4 },
  caps: { maxAttempts: 4, minGapMs: 50 },
  badOptions: [{ firstDelayMs: 0 }, { factor: 0.5 }, { maxAttempts: 2.5 }],
});
