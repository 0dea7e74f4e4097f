/**
 * Exponential back-off: how long to wait before the next try after `attempt` failures in a row.
 * The accept loop uses it plain; the client's reconnects add jitter so that many clients cut off
 * by the same restart do not all come back in the same instant.
 */

/** Options for {@linkcode backoffDelay}. */
export interface BackoffOptions {
  /** Delay after the first failure, in milliseconds. */
  initialMs: number;
  /** Largest delay, in milliseconds. */
  maxMs: number;
  /** A random number in [0, 1) for jitter; without it the delay is exact. */
  random?: () => number;
}

/**
 * The delay after `attempt` (1, 2, ...) consecutive failures: `initialMs` doubled per attempt, at
 * most `maxMs`. With `random`, a uniformly random value between half that and all of it.
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const exact = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return options.random ? exact / 2 + (exact / 2) * options.random() : exact;
}
