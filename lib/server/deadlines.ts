/**
 * A connection's two deadlines: the idle timeout (nothing received for too long) and the line
 * timeout (one line taking too long to finish: slowloris).
 *
 * No timer per connection: the connection notes when input arrives, and the server's one sweeper
 * asks every connection now and then whether a deadline has passed. While the server is not
 * reading from a client (back-pressure), the client's silence is the server's doing, not the
 * client's, so both clocks stop.
 */

/** The timeouts, in milliseconds; 0 turns one off. */
export interface DeadlineLimits {
  idleMs: number;
  lineMs: number;
}

/** Which deadline passed. */
export type Expired = "idle timeout" | "line timeout";

/**
 * A coarse monotonic clock in whole milliseconds, that every connection reads and the server's
 * sweeper advances: reading a field costs nothing, asking the runtime for the time costs a call
 * into it on every read. It is as fine as the sweeps, a tenth of the shortest timeout.
 */
export class Clock {
  now: number = Math.trunc(performance.now());

  /** Advances the clock to the real time; returns it. */
  tick(): number {
    return this.now = Math.trunc(performance.now());
  }
}

/** When a connection last heard from its client, and since when a line has been unfinished. */
export class Deadlines {
  #lastInputAt: number;
  /** When the unfinished line began; 0 when no line is unfinished. */
  #lineStartedAt = 0;
  #paused = false;

  constructor(now: number) {
    this.#lastInputAt = now;
  }

  /**
   * Notes a read at `now`. `finishedLines` says whether it completed any line, `unfinished`
   * whether a line is still open after it: a read that finished lines and began another restarts
   * the line clock, a read that only added to the open line does not.
   */
  input(now: number, finishedLines: boolean, unfinished: boolean): void {
    this.#lastInputAt = now;
    if (!unfinished) this.#lineStartedAt = 0;
    else if (this.#lineStartedAt === 0 || finishedLines) this.#lineStartedAt = now;
  }

  /** Stops (`true`) or restarts (`false`) both clocks while the server is not reading. */
  pause(paused: boolean): void {
    this.#paused = paused;
  }

  /** The deadline that has passed at `now`, if any. */
  expired(now: number, limits: DeadlineLimits): Expired | undefined {
    if (this.#paused) return undefined;
    if (limits.lineMs > 0 && this.#lineStartedAt > 0 && now - this.#lineStartedAt > limits.lineMs) {
      return "line timeout";
    }
    if (limits.idleMs > 0 && now - this.#lastInputAt > limits.idleMs) return "idle timeout";
    return undefined;
  }
}
