/**
 * Waiting: the one timer helper of the programs, the scripts and the tests.
 */

/** Options for {@linkcode delay}. */
export interface DelayOptions {
  /** Resolve early when it aborts. */
  signal?: AbortSignal;
  /** Let the process exit while waiting (`Deno.unrefTimer`). @default {false} */
  unref?: boolean;
}

/** Resolves after `ms` milliseconds, or as soon as `options.signal` aborts; never rejects. */
export function delay(ms: number, options: DelayOptions = {}): Promise<void> {
  const { signal, unref = false } = options;
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (unref) Deno.unrefTimer(timer);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * What `promise` resolves to, if it does within `ms` milliseconds; else, or if it rejects, what
 * `fallback` gives. For answers that are worth waiting for only briefly.
 */
export function within<T>(promise: Promise<T>, ms: number, fallback: () => T): Promise<T> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback()), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback());
      },
    );
  });
}
