import { strict as assert } from 'node:assert';
import { compareFingerprints, type RecordPrint } from '../helpers/round-trip-records.ts';

/** The record-by-record comparison the round trips (suite and 1,000,000-record bench) rely on: it must see each kind of difference, and only real ones. */
describe('round-trip comparison', () => {
  const nowS = Math.floor(Date.now() / 1000);
  const print = (over: Partial<RecordPrint> = {}): RecordPrint => ({
    set: 'people', key: 'string:k', generation: 2, voidTime: nowS + 3600, ttl: 3600,
    readFromMs: (nowS - 1) * 1000, atMs: nowS * 1000, bins: 'h', ...over,
  });

  it('finds TTLs read minutes apart by slow scans equal when the void times are equal', () => {
    // the reference scan: the node read the record (TTL 4850) 19 minutes before it arrived;
    // the check after the restore read it now (TTL 3600): the TTLs as read, with the time
    // between the arrivals taken off, are 19 minutes apart, the void times equal
    const before = new Map([['d1', print({ ttl: 4850, readFromMs: (nowS - 1300) * 1000, atMs: (nowS - 100) * 1000 })]]);
    const after = new Map([['d1', print()]]);
    const diff = compareFingerprints(before, after);
    assert.deepEqual(diff.examples, []);
    assert.equal(diff.count, 0);
  });

  it('groups every kind of difference with its count', () => {
    const before = new Map<string, RecordPrint>();
    const after = new Map<string, RecordPrint>();
    for (let i = 0; i < 30; i++) { before.set(`same${i}`, print()); after.set(`same${i}`, print()); }
    for (let i = 0; i < 12; i++) { before.set(`vt${i}`, print()); after.set(`vt${i}`, print({ voidTime: nowS + 3602, ttl: 3602 })); }
    before.set('never', print({ voidTime: 0, ttl: -1 }));
    after.set('never', print());
    before.set('gen', print()); after.set('gen', print({ generation: 3 }));
    before.set('bins', print()); after.set('bins', print({ bins: 'other' }));
    before.set('gone', print());
    after.set('new', print());
    // a TTL as read that no clock between the scan's start and the record's arrival explains
    before.set('odd', print()); after.set('odd', print({ ttl: 1000 }));
    const diff = compareFingerprints(before, after, 3);
    const counts = Object.fromEntries(diff.kinds.map((k) => [k.kind, k.count]));
    assert.deepEqual(counts, {
      'void time (the expiry instant)': 13,
      'TTL at one instant, from the void times (more than a second apart)': 13,
      generation: 1,
      bins: 1,
      'missing after the restore': 1,
      'not there before the backup': 1,
      'TTL as read after the round trip does not fit the void time': 1,
    });
    assert.equal(diff.count, 31);
    assert.equal(diff.kinds.find((k) => k.kind === 'void time (the expiry instant)')?.examples.length, 3, 'examples are limited per kind, counts are not');
  });

  it('counts a record whose TTL ran out since the reference as expired, not missing', () => {
    const before = new Map([['gone', print({ voidTime: nowS - 5, ttl: 10, readFromMs: (nowS - 20) * 1000, atMs: (nowS - 14) * 1000 })], ['lost', print()]]);
    const diff = compareFingerprints(before, new Map());
    assert.equal(diff.expired, 1);
    assert.deepEqual(diff.kinds.map((k) => [k.kind, k.count]), [['missing after the restore', 1]]);
  });

  it('allows a void time a second off for the TTL but not for the void time', () => {
    const diff = compareFingerprints(new Map([['d', print()]]), new Map([['d', print({ voidTime: nowS + 3601, ttl: 3601 })]]));
    assert.deepEqual(diff.kinds.map((k) => k.kind), ['void time (the expiry instant)']);
  });
});
