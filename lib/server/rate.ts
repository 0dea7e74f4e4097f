/**
 * Flood control (`--rate LINES_PER_S[:BURST]`): a token bucket per client. A client may say
 * `burst` lines at once, then `perSecond` a second; a line over the rate is not dropped, it waits
 * for its token, and while it waits the client is not read from, so TCP slows the sender down.
 * Pure: the caller gives the time.
 */

/** How fast a client may send lines. */
export interface RateLimit {
  /** Lines a second, on average. */
  perSecond: number;
  /** Lines at once, after a quiet spell. */
  burst: number;
}

/** One client's tokens. */
export class TokenBucket {
  #limit: RateLimit;
  #tokens: number;
  #last: number;

  /** A full bucket at `now` (milliseconds). */
  constructor(limit: RateLimit, now: number) {
    this.#limit = limit;
    this.#tokens = limit.burst;
    this.#last = now;
  }

  /**
   * Takes a token for one line at `now`: 0 when one was there, or how many milliseconds until one
   * will be (none is taken then; ask again after that long).
   */
  take(now: number): number {
    const { perSecond, burst } = this.#limit;
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#last) * perSecond) / 1000);
    this.#last = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.#tokens) * 1000) / perSecond);
  }
}
