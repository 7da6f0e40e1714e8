/**
 * Steps that may finish at once or later. The kernel's request paths chain storage calls that
 * an in-memory engine answers directly (see EngineAnswer): run the next step at once when the
 * value is there, after the promise when it is not. A request served from memory then runs in
 * one turn, without a microtask (and an async function's frame and promise) per step; a step
 * that throws throws to its caller, as a rejection would reject.
 */
import { isPromise } from '../plugin-api/index.ts';

/** A value now, or a promise of it (the storage contract's EngineAnswer, for any step). */
export type Maybe<T> = T | Promise<T>;

/** `next(value)` now when `value` is not a promise, else once it resolves. */
export function andThen<T, U>(value: Maybe<T>, next: (v: T) => Maybe<U>): Maybe<U> {
  return isPromise(value) ? Promise.resolve(value).then(next) : next(value);
}

/** A step's outcome as a promise (a throw becomes a rejection), for callers that promise one. */
export function settled<T>(run: () => Maybe<T>): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (err) {
    return Promise.reject(err);
  }
}
