/** `npm test` here runs the kit of the plugin's kind against it. */
import { retransmitStrategyKit } from 'slipstream/testing';
import { myStrategy } from './index.ts';

retransmitStrategyKit({ plugin: myStrategy(), options: { intervalMs: 100 }, caps: { minGapMs: 100 } });
