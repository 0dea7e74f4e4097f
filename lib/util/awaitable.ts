/**
 * Values that may or may not be promises: a step that is synchronous in one process and has to ask
 * another machine in a cluster. {@linkcode andThen} keeps the synchronous case synchronous, so the
 * common path costs no microtask and keeps its order with everything else in the same job.
 */

/** A value now, or a promise of one. */
export type Awaitable<T> = T | Promise<T>;

/** Calls `next` with `value` at once, or once it resolves when it is a promise. */
export function andThen<T, R>(value: Awaitable<T>, next: (value: T) => Awaitable<R>): Awaitable<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}
