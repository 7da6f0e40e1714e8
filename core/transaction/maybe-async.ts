/**
 * Steps that may finish at once or later. The kernel's request paths chain storage calls that
 * an in-memory engine answers directly (see EngineAnswer): run the next step at once when the
 * value is there, after the promise when it is not. A request served from memory then runs in
 * one turn, without a microtask (and an async function's frame and promise) per step; a step
 * that throws throws to its caller, as a rejection would reject.
 *
 * A request that does wait — a replicated write waits for its replicas' confirmation — waits on
 * ONE promise: the steps after it (release the record lock, make the answer, write it) are
 * composed onto that promise as a `Later` and all run in the one microtask that promise settles
 * in, instead of a promise and a microtask per step.
 */
import { isPromise } from '../plugin-api/index.ts';

/** A value now, or a promise of it (the storage contract's EngineAnswer, for any step). */
export type Maybe<T> = T | Promise<T>;

/** Receives a Later's outcome (`Later.settle`): one of the two is called, once. */
export interface Settlement<T> {
  resolved(value: T): void;
  rejected(err: unknown): void;
}

/** What a Later runs on its promise's outcome: the value it ends with, or a throw. */
type Steps<T> = (ok: boolean, outcome: unknown) => Maybe<T>;

const passOn = (ok: boolean, outcome: unknown): unknown => {
  if (!ok) throw outcome;
  return outcome;
};

/**
 * A value that comes when one promise settles, with the synchronous steps to run on it composed
 * (no promise or microtask per step): `map` adds a step on the value, `always` one that runs
 * however it ends (a lock's release), and `settle` runs them all when the promise settles, in
 * that microtask, handing the end to a receiver. A step may still return a promise (storage that
 * answers later): the steps after it then wait for it.
 *
 * It is also a promise to everyone else (then, catch, finally; `await` takes it): code written
 * for `Maybe`'s promises needs nothing to know of it, and a promise made from it (`then`)
 * settles as the steps end.
 */
export class Later<T> implements Promise<T> {
  readonly #source: Promise<unknown>;
  readonly #steps: Steps<T>;

  private constructor(source: Promise<unknown>, steps: Steps<T>) {
    this.#source = source;
    this.#steps = steps;
  }

  /** A Later of a promise's value. */
  static of<T>(source: Promise<T>): Later<T> {
    return new Later<T>(source, passOn as Steps<T>);
  }

  /** The value `next` makes of this one's (its throw rejects). */
  map<U>(next: (value: T) => Maybe<U>): Later<U> {
    const steps = this.#steps;
    return new Later<U>(this.#source, (ok, outcome) => andThen(steps(ok, outcome), next));
  }

  /** This one's outcome, after `end` ran — whether it resolved or rejected (a throw of `end` wins). */
  always(end: () => void): Later<T> {
    const steps = this.#steps;
    return new Later<T>(this.#source, (ok, outcome) => {
      let out: Maybe<T>;
      try {
        out = steps(ok, outcome);
      } catch (err) {
        end();
        throw err;
      }
      if (!isPromise(out)) {
        end();
        return out;
      }
      return Promise.resolve(out).then((v) => { end(); return v; }, (err: unknown) => { end(); throw err; });
    });
  }

  /** Runs the steps when the promise settles and hands their end to `to` (no promise is made for it). */
  settle(to: Settlement<T>): void {
    const steps = this.#steps;
    const end = (ok: boolean, outcome: unknown): void => {
      let out: Maybe<T>;
      try {
        out = steps(ok, outcome);
      } catch (err) {
        to.rejected(err);
        return;
      }
      if (isPromise(out)) out.then((v) => to.resolved(v), (err: unknown) => to.rejected(err));
      else to.resolved(out);
    };
    this.#source.then((v) => end(true, v), (err: unknown) => end(false, err));
  }

  /** The outcome as a plain promise. */
  promise(): Promise<T> {
    const steps = this.#steps;
    return this.#source.then((v) => steps(true, v), (err: unknown) => steps(false, err));
  }

  then<A = T, B = never>(onResolved?: ((value: T) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.promise().then(onResolved, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.promise().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.promise().finally(onFinally);
  }

  readonly [Symbol.toStringTag] = 'Later';
}

/**
 * `next(value)` now when `value` is not a promise, else once it resolves (composed onto a Later:
 * no promise of its own).
 */
export function andThen<T, U>(value: Maybe<T>, next: (v: T) => Maybe<U>): Maybe<U> {
  if (!isPromise(value)) return next(value);
  return value instanceof Later ? (value as Later<T>).map(next) : Promise.resolve(value).then(next);
}

/** A step's outcome as a promise (a throw becomes a rejection), for callers that promise one. */
export function settled<T>(run: () => Maybe<T>): Promise<T> {
  try {
    const out = run();
    return out instanceof Later ? (out as Later<T>).promise() : Promise.resolve(out);
  } catch (err) {
    return Promise.reject(err);
  }
}
