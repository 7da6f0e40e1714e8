// Slipstream UDF sandbox runtime. This file is trusted code that runs INSIDE each isolate,
// before the user's module. It is plain JavaScript (it is evaluated as a script, never imported
// by the host). Its completion value is `{ install, dispatch }`; the host keeps References to
// those two functions and never hands any Reference to user code.
//
// Everything that crosses the boundary is a JSON string in the tagged format of core/udf/codec.ts:
//   JSON number: integral → integer, otherwise double;  {"i":"<digits>"} integer beyond 2^53;
//   {"d":"<number>"} double that would read as an integer (2.0, NaN, ±Infinity, -0);
//   {"b":"<base64>"} bytes; {"g":"<text>"} GeoJSON; {"m":[k1,v1,k2,v2,…]} map; arrays are lists;
//   {"m":[…],"o":1|3} a key-ordered / key-value-ordered map (noted on it as a MapOrder, sent back with it).
// A request is an object with an `op`, except a record call from the engine, which comes as an
// array and is answered with one (codec.ts, "record calls").
//
// After the runtime is set up it removes the globals a UDF must not have (SharedArrayBuffer,
// Atomics, WebAssembly, console, weak refs) and freezes every intrinsic, so a module cannot
// pollute prototypes that the runtime, or its own later calls, rely on.
(function () {
  'use strict';
  const G = globalThis;
  const { parse: jsonParse, stringify: jsonStringify } = JSON;
  const { isArray } = Array;
  const { isInteger, isSafeInteger } = Number;
  const { getPrototypeOf, keys: objectKeys, defineProperty, freeze, getOwnPropertyNames, getOwnPropertyDescriptor, create: objectCreate, is: objectIs } = Object;
  const ObjectProto = Object.prototype;
  const MapCtor = Map;
  const WeakMapCtor = WeakMap;
  const U8 = Uint8Array;
  const BigIntFn = BigInt;
  const StringFn = String;
  const ErrorCtor = Error;
  const TypeErrorCtor = TypeError;
  const dateNow = Date.now;
  const MAX_DEPTH = 64;
  const MAX_LOG_LINES = 100;
  const MAX_LOG_CHARS = 1000;

  // ---------------------------------------------------------------- base64 (no atob in V8)
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const B64_INDEX = new U8(128);
  for (let i = 0; i < 64; i++) B64_INDEX[B64.charCodeAt(i)] = i;
  function toBase64(bytes) {
    let out = '';
    let i = 0;
    for (; i + 2 < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
    }
    if (i < bytes.length) {
      const n = (bytes[i] << 16) | ((i + 1 < bytes.length ? bytes[i + 1] : 0) << 8);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + (i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=') + '=';
    }
    return out;
  }
  function fromBase64(s) {
    let len = s.length;
    while (len > 0 && s[len - 1] === '=') len--;
    const out = new U8(Math.floor((len * 3) / 4));
    let o = 0;
    for (let i = 0; i < len; i += 4) {
      const a = B64_INDEX[s.charCodeAt(i)], b = B64_INDEX[s.charCodeAt(i + 1)];
      const c = i + 2 < len ? B64_INDEX[s.charCodeAt(i + 2)] : 0, d = i + 3 < len ? B64_INDEX[s.charCodeAt(i + 3)] : 0;
      const n = (a << 18) | (b << 12) | (c << 6) | d;
      out[o++] = (n >> 16) & 255;
      if (i + 2 < len) out[o++] = (n >> 8) & 255;
      if (i + 3 < len) out[o++] = n & 255;
    }
    return out;
  }

  // ---------------------------------------------------------------- value types
  /** A GeoJSON bin value: `.text` is the document, `.value` the parsed object. */
  class GeoJSON {
    constructor(textOrObject) {
      const text = typeof textOrObject === 'string' ? textOrObject : jsonStringify(textOrObject);
      defineProperty(this, 'text', { value: text, enumerable: true });
      freeze(this);
    }
    get value() { return jsonParse(this.text); }
    toString() { return this.text; }
  }
  /** Marks a number to be stored as a double even when it has no fraction: aerospike.double(2). */
  class DoubleValue {
    constructor(n) {
      if (typeof n !== 'number') throw new TypeErrorCtor('aerospike.double() takes a number');
      defineProperty(this, 'value', { value: n, enumerable: true });
      freeze(this);
    }
    valueOf() { return this.value; }
  }

  function doubleTag(n) {
    return { d: n === 0 && 1 / n < 0 ? '-0' : StringFn(n) };
  }

  // ---------------------------------------------------------------- private notes on objects
  // State the runtime keeps about an object it made rides on that object as a private field (out
  // of the UDF's reach, like a WeakMap entry, but without the ephemeron a WeakMap entry costs every
  // garbage collection: a WeakMap of record state made collection more than a third of a small
  // call's time). A base class whose constructor returns its argument lets a subclass add its
  // private field to an object that already exists.
  class Stamp { constructor(o) { return o; } }

  // ---------------------------------------------------------------- decode (wire → sandbox)
  /** The order flag of an ordered map this isolate was given: the same map sent back keeps it. */
  class MapOrder extends Stamp {
    #o;
    constructor(m, o) { super(m); this.#o = o; }
    static of(m) { return #o in m ? m.#o : undefined; }
  }
  function decode(v) {
    if (typeof v !== 'object' || v === null) return v;
    if (isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (typeof x === 'object' && x !== null) v[i] = decode(x);
      }
      return v;
    }
    if (v.i !== undefined) return BigIntFn(v.i);
    if (v.d !== undefined) return +v.d;
    if (v.b !== undefined) return fromBase64(v.b);
    if (v.g !== undefined) return new GeoJSON(v.g);
    // maps with only string keys become plain objects (m.k / m['k'] as in Lua); others Maps
    const kv = v.m;
    let stringKeys = true;
    for (let i = 0; i < kv.length; i += 2) if (typeof kv[i] !== 'string') { stringKeys = false; break; }
    if (stringKeys) {
      const o = {};
      for (let i = 0; i < kv.length; i += 2) setOwn(o, kv[i], decode(kv[i + 1]));
      if (v.o !== undefined) new MapOrder(o, v.o);
      return o;
    }
    const m = new MapCtor();
    for (let i = 0; i < kv.length; i += 2) m.set(decode(kv[i]), decode(kv[i + 1]));
    if (v.o !== undefined) new MapOrder(m, v.o);
    return m;
  }
  function setOwn(obj, k, v) {
    if (k === '__proto__') defineProperty(obj, k, { value: v, writable: true, enumerable: true, configurable: true });
    else obj[k] = v;
  }
  /**
   * Decodes a bins object in place (JSON.parse already made it an own-property object); with
   * `orig`, also notes there the bins that hold a primitive value (see SAME).
   */
  function decodeBins(bins, orig) {
    for (const k in bins) {
      let x = bins[k];
      if (typeof x === 'object' && x !== null) setOwn(bins, k, x = decode(x));
      if (orig !== undefined && typeof x !== 'object') setOwn(orig, k, x);
    }
    return bins;
  }

  // ---------------------------------------------------------------- encode (sandbox → wire)
  function typeName(v) {
    if (v === null) return 'null';
    if (typeof v !== 'object') return typeof v;
    const p = getPrototypeOf(v);
    const c = p === null ? undefined : p.constructor;
    return typeof c === 'function' && typeof c.name === 'string' && c.name !== '' ? c.name : 'object';
  }
  function encode(v, depth) {
    switch (typeof v) {
      case 'undefined': return null;
      case 'boolean': case 'string': return v;
      case 'number':
        if (isInteger(v)) return isSafeInteger(v) && !(v === 0 && 1 / v < 0) ? v : doubleTag(v);
        return v === v && v !== Infinity && v !== -Infinity ? v : doubleTag(v);
      case 'bigint': {
        if (v >= -9007199254740991n && v <= 9007199254740991n) return Number(v);
        return { i: v.toString() };
      }
      case 'object': {
        if (v === null) return null;
        if (depth >= MAX_DEPTH) throw new TypeErrorCtor(`value nested more than ${MAX_DEPTH} levels deep`);
        if (isArray(v)) {
          const out = new Array(v.length);
          for (let i = 0; i < v.length; i++) out[i] = encode(v[i], depth + 1);
          return out;
        }
        if (v instanceof DoubleValue) return isInteger(v.value) || v.value !== v.value || !isFinite(v.value) ? doubleTag(v.value) : v.value;
        if (v instanceof U8) return { b: toBase64(v) };
        if (v instanceof GeoJSON) return { g: v.text };
        if (v instanceof MapCtor) {
          const kv = [];
          for (const [k, x] of v) {
            const tk = typeof k;
            if (tk !== 'string' && tk !== 'number' && tk !== 'bigint') throw new TypeErrorCtor(`map keys must be strings or numbers, not ${typeName(k)}`);
            kv.push(encode(k, depth + 1), encode(x, depth + 1));
          }
          const o = MapOrder.of(v);
          return o === undefined ? { m: kv } : { m: kv, o };
        }
        const p = getPrototypeOf(v);
        if (p === ObjectProto || p === null) {
          const kv = [];
          const ks = objectKeys(v);
          for (let i = 0; i < ks.length; i++) kv.push(ks[i], encode(v[ks[i]], depth + 1));
          const o = MapOrder.of(v);
          return o === undefined ? { m: kv } : { m: kv, o };
        }
        throw new TypeErrorCtor(`a ${typeName(v)} cannot be stored or returned; use numbers, strings, booleans, Uint8Array, GeoJSON, arrays, Maps or plain objects`);
      }
      default:
        throw new TypeErrorCtor(`a ${typeof v} cannot be stored or returned; use numbers, strings, booleans, Uint8Array, GeoJSON, arrays, Maps or plain objects`);
    }
  }

  // ---------------------------------------------------------------- errors
  function describeError(e) {
    // Reading properties of a hostile thrown value runs user code: that is fine here, it is
    // still inside the timed call, and any failure is itself reported.
    try {
      if (e instanceof ErrorCtor) {
        return { name: StringFn(e.name), message: StringFn(e.message), stack: typeof e.stack === 'string' ? e.stack : '' };
      }
      return { name: 'Error', message: typeof e === 'string' ? e : `non-Error value thrown: ${StringFn(e)}`, stack: '' };
    } catch {
      return { name: 'Error', message: 'a value was thrown that cannot be described', stack: '' };
    }
  }

  // ---------------------------------------------------------------- module + logs
  let exportsNs = null;
  let moduleName = '';
  /** The lines logged by the call running now; NO_LOGS (shared, never pushed to) until the first. */
  const NO_LOGS = freeze([]);
  let logs = NO_LOGS;
  function fnOf(name) {
    const f = exportsNs === null ? undefined : exportsNs[name];
    if (typeof f !== 'function') {
      const e = new ErrorCtor(`function '${name}' is not exported by module '${moduleName}'`);
      defineProperty(e, 'name', { value: 'NoSuchFunction' });
      throw e;
    }
    return f;
  }
  function checkSync(result) {
    if (result !== null && (typeof result === 'object' || typeof result === 'function') && typeof result.then === 'function') {
      throw new TypeErrorCtor('UDF functions must be synchronous: return a value, not a Promise (async functions and await are not supported)');
    }
    return result;
  }
  function log(...parts) {
    if (logs.length >= MAX_LOG_LINES) return;
    if (logs === NO_LOGS) logs = [];
    let line = '';
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      let s;
      try { s = typeof p === 'string' ? p : jsonStringify(encode(p, 0)); } catch { s = StringFn(p); }
      line += (i > 0 ? ' ' : '') + s;
      if (line.length > MAX_LOG_CHARS) { line = line.slice(0, MAX_LOG_CHARS) + '…'; break; }
    }
    logs.push(line);
  }

  // ---------------------------------------------------------------- record UDFs
  // A record's call state rides on the record object as a private field (see Stamp).
  class RecState extends Stamp {
    #st;
    constructor(rec, st) { super(rec); this.#st = st; }
    static of(o) { return typeof o === 'object' && o !== null && #st in o ? o.#st : undefined; }
  }
  function stateOf(rec) {
    const s = RecState.of(rec);
    if (s === undefined) throw new TypeErrorCtor('expected the record passed to the UDF');
    return s;
  }
  /**
   * Written back in place of a bin that still holds the primitive value it was read with: the
   * host keeps the stored value, so an untouched bin is not encoded here, nor parsed and decoded
   * there. (A list, map or bytes value may have been changed in place, so it is always sent.)
   */
  const SAME = freeze({ s: 0 });
  function snapshotBins(rec, st) {
    const out = {};
    const names = objectKeys(rec);
    for (let i = 0; i < names.length; i++) {
      const k = names[i];
      const v = rec[k];
      if (v === undefined || v === null) continue;
      const was = st.orig[k];
      if (was !== undefined && objectIs(v, was)) {
        setOwn(out, k, SAME);
        continue;
      }
      // doubles stay doubles: a number written to a bin that held a double is stored as a double
      let enc;
      if (typeof v === 'number' && st.doubles[k] === true) enc = isInteger(v) || v !== v || !isFinite(v) ? doubleTag(v) : v;
      else enc = encode(v, 0);
      out[k] = enc;
    }
    return out;
  }
  const aerospike = freeze({
    exists(rec) { return stateOf(rec).exists; },
    create(rec) {
      const st = stateOf(rec);
      if (st.exists) return 1;
      st.effect = { t: 'write', create: true, bins: snapshotBins(rec, st) };
      st.exists = true;
      return 0;
    },
    update(rec) {
      const st = stateOf(rec);
      st.effect = { t: 'write', create: !st.existedBefore, bins: snapshotBins(rec, st) };
      st.exists = true;
      return 0;
    },
    remove(rec) {
      const st = stateOf(rec);
      st.effect = { t: 'delete' };
      st.exists = false;
      return 0;
    },
    log,
    double(n) { return new DoubleValue(n); },
    currentTime() { return Date.now(); },
  });
  const record = freeze({
    gen(rec) { return stateOf(rec).gen; },
    ttl(rec) { const s = stateOf(rec); return s.ttl; },
    setTtl(rec, seconds) {
      const s = stateOf(rec);
      if (typeof seconds === 'bigint') seconds = Number(seconds);
      if (typeof seconds !== 'number' || !isInteger(seconds) || seconds < -2 || seconds > 0xffffffff) {
        throw new TypeErrorCtor('record.setTtl(rec, seconds): seconds must be an integer, -1 (never expire), -2 (unchanged) or 0 (namespace default)');
      }
      s.newTtl = seconds;
    },
    key(rec) { return stateOf(rec).key; },
    digest(rec) { return fromBase64(stateOf(rec).digest); },
    setName(rec) { return stateOf(rec).set; },
    namespace(rec) { return stateOf(rec).ns; },
    lastUpdateTime(rec) { return stateOf(rec).lut; },
    binNames(rec) { stateOf(rec); return objectKeys(rec).filter((k) => rec[k] !== undefined && rec[k] !== null); },
    numBins(rec) { return record.binNames(rec).length; },
  });

  const NO_EFFECT = freeze({ t: 'none' });
  /**
   * Runs a record UDF on the record it was sent (bins, the names of the bins holding doubles, and
   * the metadata); returns its state, whose `effect` and `value` make the answer.
   */
  function recordCall(fn, args, bins, doubleNames, exists, gen, ttl, lut, key, digest, set, ns) {
    const orig = objectCreate(null);
    const rec = decodeBins(bins, orig);
    const doubles = {};
    if (doubleNames !== undefined && doubleNames !== 0) for (let i = 0; i < doubleNames.length; i++) doubles[doubleNames[i]] = true;
    const st = {
      exists, existedBefore: exists, gen, ttl, lut,
      key: key === null ? null : decode(key), digest, set, ns,
      doubles, orig, effect: NO_EFFECT, newTtl: undefined, value: undefined,
    };
    new RecState(rec, st);
    const a = decode(args);
    st.value = encode(checkSync(a.length === 1 ? fnOf(fn)(rec, a[0]) : fnOf(fn)(rec, ...a)), 0);
    const effect = st.effect;
    if (effect.t === 'write' && st.newTtl !== undefined) effect.ttl = st.newTtl;
    return st;
  }
  function runRecord(req) {
    const r = req.rec;
    const st = recordCall(req.fn, req.args, r.bins, r.doubles, r.exists, r.gen, r.ttl, r.lut, r.key, r.digest, r.set, r.ns);
    // no logs: none sent (the host reads a missing list as empty)
    return logs === NO_LOGS ? { ok: true, value: st.value, effect: st.effect } : { ok: true, value: st.value, effect: st.effect, logs };
  }
  /**
   * A record call in the compact form the engine sends (an array: no property names to parse
   * here or to write there), answered in the compact form (see codec.ts, "record calls").
   */
  function runRecordCompact(q) {
    const st = recordCall(q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10], q[11]);
    const e = st.effect;
    if (e.t === 'write') {
      const ttl = e.ttl === undefined ? null : e.ttl;
      return logs === NO_LOGS ? [st.value, 1, e.bins, e.create ? 1 : 0, ttl] : [st.value, 1, e.bins, e.create ? 1 : 0, ttl, logs];
    }
    const kind = e.t === 'delete' ? 2 : 0;
    return logs === NO_LOGS ? (kind === 0 ? [st.value] : [st.value, kind]) : [st.value, kind, 0, 0, null, logs];
  }

  // ---------------------------------------------------------------- stream UDFs
  // A pipeline is a list of stages; each stage receives values with push() and, when the input
  // ends, flush() emits what it holds downstream. The partial phase runs the stages up to and
  // including the first reduce/groupBy; the final phase runs that reduce again over the partials
  // (merging them) and then the remaining stages.
  function checkFn(f, what) {
    if (typeof f !== 'function') throw new TypeErrorCtor(`stream.${what} expects a function`);
  }
  class Stream {
    constructor() { defineProperty(this, 'ops', { value: [] }); }
    filter(f) { checkFn(f, 'filter'); this.ops.push({ kind: 'filter', f }); return this; }
    map(f) { checkFn(f, 'map'); this.ops.push({ kind: 'map', f }); return this; }
    aggregate(init, f) { checkFn(f, 'aggregate'); this.ops.push({ kind: 'aggregate', init: encode(init, 0), f }); return this; }
    reduce(f) { checkFn(f, 'reduce'); this.ops.push({ kind: 'reduce', f }); return this; }
    groupBy(keyFn, init, fold, merge) {
      checkFn(keyFn, 'groupBy');
      if (fold !== undefined) { checkFn(fold, 'groupBy fold'); checkFn(merge, 'groupBy merge (needed to merge partial groups)'); }
      this.ops.push({ kind: 'groupBy', keyFn, init: fold === undefined ? null : encode(init, 0), fold, merge });
      return this;
    }
  }
  defineProperty(Stream.prototype, 'groupby', { value: Stream.prototype.groupBy });

  function cloneInit(enc) { return decode(jsonParse(jsonStringify(enc))); }
  function groupKey(k) {
    const t = typeof k;
    if (t === 'string' || t === 'number' || t === 'bigint') return k;
    if (k === undefined || k === null) return null;
    if (t === 'boolean') return StringFn(k);
    throw new TypeErrorCtor(`groupBy key must be a string or a number, got ${typeName(k)}`);
  }
  function makeStage(op, merging, next) {
    switch (op.kind) {
      case 'filter': return { push(v) { if (op.f(v)) next.push(v); }, flush() { next.flush(); } };
      case 'map': return { push(v) { next.push(checkSync(op.f(v))); }, flush() { next.flush(); } };
      case 'aggregate': {
        let acc = cloneInit(op.init);
        return { push(v) { acc = op.f(acc, v); }, flush() { next.push(acc); next.flush(); } };
      }
      case 'reduce': {
        let has = false, acc;
        return {
          push(v) { if (has) acc = op.f(acc, v); else { acc = v; has = true; } },
          flush() { if (has) next.push(acc); next.flush(); },
        };
      }
      case 'groupBy': {
        const groups = new MapCtor();
        const add = (k, v) => {
          if (!groups.has(k)) groups.set(k, v);
          else groups.set(k, op.fold === undefined ? groups.get(k).concat(v) : op.merge(groups.get(k), v));
        };
        return {
          push(v) {
            if (merging) {
              if (v instanceof MapCtor) for (const [k, x] of v) add(k, x);
              else if (typeof v === 'object' && v !== null) for (const k of objectKeys(v)) add(k, v[k]);
              else throw new TypeErrorCtor('groupBy: a partial result is not a map');
              return;
            }
            const k = groupKey(op.keyFn(v));
            if (op.fold === undefined) { if (groups.has(k)) groups.get(k).push(v); else groups.set(k, [v]); }
            else groups.set(k, op.fold(groups.has(k) ? groups.get(k) : cloneInit(op.init), v));
          },
          flush() { next.push(groups); next.flush(); },
        };
      }
      default: throw new TypeErrorCtor(`unknown stream op ${op.kind}`);
    }
  }
  const sessions = new MapCtor();
  function buildPipeline(fnName, args, phase) {
    const stream = new Stream();
    const out = checkSync(fnOf(fnName)(stream, ...args));
    if (out !== stream) throw new TypeErrorCtor(`stream UDF '${fnName}' must return the stream it was given (return stream.map(…)…)`);
    const ops = stream.ops;
    let split = ops.findIndex((o) => o.kind === 'reduce' || o.kind === 'groupBy');
    const selected = split < 0 ? (phase === 'partial' ? ops : []) : phase === 'partial' ? ops.slice(0, split + 1) : ops.slice(split);
    const results = [];
    let next = { push(v) { results.push(encode(v, 0)); }, flush() {} };
    for (let i = selected.length - 1; i >= 0; i--) next = makeStage(selected[i], phase === 'final' && i === 0, next);
    return { head: next, results };
  }

  // ---------------------------------------------------------------- entry points
  function handle(req) {
    switch (req.op) {
      case 'record': return runRecord(req);
      case 'aggStart': {
        sessions.set(req.sid, buildPipeline(req.fn, decode(req.args), req.phase));
        return { ok: true };
      }
      case 'aggFeed': {
        const s = sessions.get(req.sid);
        if (s === undefined) throw new ErrorCtor('aggregation session not found');
        const items = req.items;
        if (req.kind === 'records') for (let i = 0; i < items.length; i++) s.head.push(decodeBins(items[i]));
        else for (let i = 0; i < items.length; i++) s.head.push(decode(items[i]));
        return { ok: true };
      }
      case 'aggEnd': {
        const s = sessions.get(req.sid);
        if (s === undefined) throw new ErrorCtor('aggregation session not found');
        sessions.delete(req.sid);
        s.head.flush();
        return { ok: true, values: s.results };
      }
      case 'aggAbort': sessions.delete(req.sid); return { ok: true };
      default: throw new ErrorCtor(`unknown request ${StringFn(req.op)}`);
    }
  }
  function dispatch(reqJson) {
    logs = NO_LOGS;
    let res;
    try {
      const req = jsonParse(reqJson);
      res = isArray(req) ? runRecordCompact(req) : handle(req);
    } catch (e) {
      res = { ok: false, error: describeError(e), logs };
    }
    try {
      return jsonStringify(res);
    } catch (e) {
      return jsonStringify({ ok: false, error: describeError(e), logs: [] });
    }
  }
  // Many record calls in one entry: the host joins their requests with '\n' (JSON text never
  // holds a raw line break) and gets their answers joined the same way. No call starts once
  // `budgetMs` have passed since the batch began (the rest are sent again), so that every call
  // has at least the rest of the host's time slice to itself. When the host stops a batch at the
  // end of its slice, batchPartial() tells it which call was running, since when, and the answers
  // of the calls that had finished. Each batch has a number (`seq`), noted only after the state
  // of the batch before was cleared: a batch stopped before it began (a slice that ended before
  // the isolate ran, on a busy machine) reads as not started, never as the answers of the last one.
  let batchDone = [];
  let batchCurrent = -1;
  let batchStartedAt = 0;
  let batchSeq;
  function dispatchBatch(joined, budgetMs, seq) {
    batchDone = [];
    batchCurrent = -1;
    batchSeq = seq;
    const reqs = joined.split('\n');
    const start = dateNow();
    for (let i = 0; i < reqs.length; i++) {
      const now = dateNow();
      if (i > 0 && now - start >= budgetMs) break;
      batchStartedAt = now;
      batchCurrent = i;
      batchDone.push(dispatch(reqs[i]));
      batchCurrent = -1;
    }
    return batchDone.join('\n');
  }
  function batchPartial(seq) {
    if (seq !== batchSeq) return '-2 0';
    return `${batchCurrent} ${batchStartedAt}${batchDone.length > 0 ? '\n' : ''}${batchDone.join('\n')}`;
  }
  function install(ns, name) {
    exportsNs = ns;
    moduleName = name;
  }
  function exportedFunctions() {
    const out = [];
    if (exportsNs !== null) for (const k of objectKeys(exportsNs)) if (typeof exportsNs[k] === 'function') out.push(k);
    return jsonStringify(out);
  }

  // ---------------------------------------------------------------- lockdown
  defineProperty(G, 'aerospike', { value: aerospike, enumerable: false, writable: false, configurable: false });
  defineProperty(G, 'record', { value: record, enumerable: false, writable: false, configurable: false });
  defineProperty(G, 'GeoJSON', { value: GeoJSON, enumerable: false, writable: false, configurable: false });
  for (const name of ['SharedArrayBuffer', 'Atomics', 'WebAssembly', 'console', 'WeakRef', 'FinalizationRegistry']) {
    delete G[name];
  }
  // Freezing prototypes makes `obj.toString = …` or `this.name = …` (in an Error subclass) throw,
  // because the inherited property is read-only (the "override mistake"). For the properties
  // code commonly assigns, the inherited property becomes an accessor whose setter defines an
  // own property on the object instead — as SES does.
  function enableOverride(proto, prop) {
    const d = getOwnPropertyDescriptor(proto, prop);
    if (d === undefined || !('value' in d)) return;
    const value = d.value;
    defineProperty(proto, prop, {
      get() { return value; },
      set(v) {
        if (this === proto) throw new TypeErrorCtor(`cannot change the shared ${prop} of a built-in prototype`);
        defineProperty(this, prop, { value: v, writable: true, enumerable: true, configurable: true });
      },
      enumerable: d.enumerable,
      configurable: false,
    });
  }
  for (const p of ['toString', 'valueOf', 'constructor', 'hasOwnProperty', 'toLocaleString', 'toJSON']) enableOverride(ObjectProto, p);
  for (const E of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError, AggregateError]) {
    for (const p of ['name', 'message', 'constructor', 'toString']) enableOverride(E.prototype, p);
  }
  enableOverride(Function.prototype, 'toString');
  const seen = new WeakMapCtor();
  function deepFreeze(o) {
    if ((typeof o !== 'object' && typeof o !== 'function') || o === null || seen.has(o)) return;
    seen.set(o, true);
    freeze(o);
    for (const k of getOwnPropertyNames(o)) {
      const d = getOwnPropertyDescriptor(o, k);
      if (d === undefined) continue;
      if ('value' in d) deepFreeze(d.value);
      else { deepFreeze(d.get); deepFreeze(d.set); }
    }
    deepFreeze(getPrototypeOf(o));
  }
  for (const name of getOwnPropertyNames(G)) {
    if (name === 'globalThis') continue;
    const d = getOwnPropertyDescriptor(G, name);
    if (d !== undefined && 'value' in d) deepFreeze(d.value);
  }
  deepFreeze(Stream);
  deepFreeze(DoubleValue);
  // intrinsics reachable only through syntax
  deepFreeze(getPrototypeOf(function* () {}));
  deepFreeze(getPrototypeOf(async function () {}));
  deepFreeze(getPrototypeOf(async function* () {}));
  deepFreeze(getPrototypeOf([][Symbol.iterator]()));
  deepFreeze(getPrototypeOf(new MapCtor().entries()));
  deepFreeze(getPrototypeOf(''[Symbol.iterator]()));
  return { install, dispatch, dispatchBatch, batchPartial, exportedFunctions };
})();
