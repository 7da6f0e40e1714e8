import { strict as assert } from 'node:assert';
import { basicRetransmit } from '../../plugins/retransmit-basic/index.ts';
import { FakeClock } from '../../core/cluster/clock.ts';
import { driveUnacked, retransmitContext, retransmitStrategyKit, checkedOptions } from 'slipstream/testing';

retransmitStrategyKit({ plugin: basicRetransmit() });
retransmitStrategyKit({ plugin: basicRetransmit(), name: 'retransmit-basic (maxAttempts 3, intervalMs 100)', options: { intervalMs: 100, maxAttempts: 3 }, caps: { maxAttempts: 3, minGapMs: 100 } });

describe('plugins/retransmit-basic', () => {
  it('resends at a fixed interval until the deadline', () => {
    const clock = new FakeClock();
    const s = basicRetransmit().create(retransmitContext(clock), { intervalMs: 300 });
    assert.deepEqual(driveUnacked(clock, s, 1000).resends, [300, 600, 900]);
  });

  it('stops after maxAttempts resends', () => {
    const clock = new FakeClock();
    const s = basicRetransmit().create(retransmitContext(clock), { intervalMs: 100, maxAttempts: 2 });
    const r = driveUnacked(clock, s, 10_000);
    assert.deepEqual(r.resends, [100, 200]);
    assert.equal(r.gaveUpAt, 200);
  });

  it('rejects a non-numeric interval', () => {
    assert.throws(() => checkedOptions(basicRetransmit(), { intervalMs: '1s' }), /option intervalMs: must be a number more than 0, got "1s"/);
  });
});
