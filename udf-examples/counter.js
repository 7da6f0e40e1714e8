// counter.js — a counter that expires: each hit adds to a bin and (re)sets the record's TTL,
// e.g. a rate limiter window.
//
//   EXECUTE counter.hit('hits', 1, 60) ON test.rate WHERE PK = 'client-42'
//
// Returns the new count. Created on the first hit; `limit` makes it refuse beyond a maximum.

export function hit(rec, bin, by, ttlSeconds) {
  rec[bin] = (rec[bin] ?? 0) + (by ?? 1);
  if (ttlSeconds !== undefined && ttlSeconds !== null) record.setTtl(rec, ttlSeconds);
  aerospike.update(rec);
  return rec[bin];
}

export function limit(rec, bin, max, ttlSeconds) {
  const next = (rec[bin] ?? 0) + 1;
  if (next > max) throw new Error(`1429:rate limit of ${max} reached; retry in ${record.ttl(rec)} s`);
  return hit(rec, bin, 1, aerospike.exists(rec) ? -2 : ttlSeconds);
}

/** Reads the counter and how long it has left, without writing. */
export function peek(rec, bin) {
  return { count: rec[bin] ?? 0, ttl: record.ttl(rec), generation: record.gen(rec) };
}
