/**
 * Calls sent by the partition map (see cluster-routing.ts): one key's request to the node that
 * holds it, with the retry policy applied across nodes (a retry goes to the next copy the
 * policy allows, or — when the node cannot be reached — to any live node, which proxies), and
 * batches split per node and put back together in request order.
 */
import type { Metadata } from '@grpc/grpc-js';
import { DbError } from '../errors/index.ts';
import { PROXIED_HEADER } from '../wire/status.ts';
import { RETRYABLE, type ClientChannel, type Method } from './channel.ts';
import type { ClusterRouting } from './cluster-routing.ts';
import type { CallOptions, ClientKey, ClientReplica } from './types.ts';

/** Where a call goes: the keys it acts on and whether it writes. */
export interface Route {
  readonly key: ClientKey;
  readonly write: boolean;
  readonly replica: ClientReplica;
}

/**
 * Sends one request to the node the map names for `route` (the next candidate on each retry),
 * counting it as direct, proxied (the node forwarded it: the map is refreshed) or fallback.
 */
export async function routedUnary<Req, Res>(
  routing: ClusterRouting, policy: ClientChannel['policy'], method: Method<Req, Res>, request: Req,
  route: Route, options: CallOptions, retryByDefault: boolean,
): Promise<Res> {
  return withRetries(policy, options, retryByDefault, (attempt) => {
    let candidates: string[];
    try {
      candidates = routing.candidates(route.key, route.write, route.replica);
    } catch {
      candidates = []; // a key the server must explain (e.g. an empty string): any node does
    }
    const id = candidates.length === 0 ? undefined : candidates[attempt % candidates.length];
    return sendTo(routing, id, method, request, options);
  });
}

/**
 * Runs `attempt(n)` until it succeeds or the policy stops it: retryable errors are retried up to
 * the call's (or, when `retryByDefault`, the policy's) retries with a doubling delay; a write that
 * never reached a node (CONNECTION, not in doubt) is safe to send once more even without retries.
 */
async function withRetries<Res>(policy: ClientChannel['policy'], options: CallOptions, retryByDefault: boolean, attempt: (n: number) => Promise<Res>): Promise<Res> {
  const retries = options.maxRetries ?? (retryByDefault ? policy.maxRetries : 0);
  let delay = policy.retryDelayMs;
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!(err instanceof DbError) || options.signal?.aborted === true) throw err;
      const unsent = err.code === 'CONNECTION' && !err.inDoubt;
      if (n >= (unsent ? Math.max(retries, 1) : retries) || !RETRYABLE.has(err.code)) throw err;
      await new Promise((r) => setTimeout(r, delay));
      delay *= 2;
    }
  }
}

/** One attempt to node `id` (any live node when undefined or unreachable), with the routing stats. */
async function sendTo<Req, Res>(routing: ClusterRouting, id: string | undefined, method: Method<Req, Res>, request: Req, options: CallOptions): Promise<Res> {
  let channel: ClientChannel | undefined;
  if (id !== undefined) channel = await routing.channel(id)?.catch(() => undefined);
  const direct = channel !== undefined;
  channel ??= await routing.anyChannel();
  let proxied = false;
  const onTrailers = (md: Metadata): void => { if (md.get(PROXIED_HEADER)[0] === 'true') proxied = true; };
  const count = (): void => {
    if (proxied) {
      routing.stats.proxied++;
      routing.markStale();
    } else if (direct) {
      routing.stats.direct++;
    } else {
      routing.stats.fallback++;
    }
  };
  try {
    const res = await channel.unary(method, request, { ...options, maxRetries: 0 }, false, onTrailers);
    count();
    return res;
  } catch (err) {
    if (err instanceof DbError && err.code === 'CONNECTION' && id !== undefined) routing.nodeDown(id);
    else count();
    throw err;
  }
}

/**
 * A batch split per node: `group(i)` is the route of item i; `call(items)` sends the items of one
 * node as one request and returns their results in the same order. Results come back in the
 * order of `items`. A node's part that fails as a whole is retried by the client's policy.
 */
export async function splitBatch<T, R>(
  routing: ClusterRouting, items: readonly T[], route: (item: T) => Route,
  call: (part: readonly T[], send: <Req, Res>(method: Method<Req, Res>, request: Req, options: CallOptions, retryByDefault: boolean) => Promise<Res>) => Promise<R[]>,
  policy: ClientChannel['policy'],
): Promise<R[]> {
  const parts = new Map<string, number[]>();
  items.forEach((item, i) => {
    const r = route(item);
    let first: string | undefined;
    try {
      first = routing.candidates(r.key, r.write, r.replica)[0];
    } catch {
      first = undefined;
    }
    const k = first ?? '';
    const list = parts.get(k);
    if (list === undefined) parts.set(k, [i]);
    else list.push(i);
  });
  const out = new Array<R>(items.length);
  await Promise.all([...parts].map(async ([node, indexes]) => {
    const part = indexes.map((i) => items[i] as T);
    const results = await call(part, (method, request, options, retryByDefault) =>
      // a retry goes to any live node, which forwards each key to its master
      withRetries(policy, options, retryByDefault, (attempt) => sendTo(routing, attempt === 0 && node !== '' ? node : undefined, method, request, options)));
    indexes.forEach((i, j) => { out[i] = results[j] as R; });
  }));
  return out;
}
