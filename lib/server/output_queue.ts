/**
 * A connection's output: a bounded byte queue with exactly one writer.
 *
 * `push()` only appends a line to the queue; it never writes. A single drain task, started one
 * microtask after the first push, writes everything queued so far in one `write` (looping over
 * partial writes), then whatever was queued meanwhile, until the queue is empty. Under load that
 * coalesces many lines into each system call; at rest a line goes out after one microtask, once
 * the rest of the current job (the rest of a broadcast, the replies to the rest of a read) has
 * joined it.
 *
 * Two buffers take turns, so a busy connection allocates nothing per write; a large one (after a
 * burst) is let go rather than kept by a connection that may now be idle.
 *
 * The queue does not decide what happens when it is over its limit; it says so and its owner
 * decides (the connection drops the client or stops reading from it).
 */

import { delay } from "../util/delay.ts";
import { writeAll, type Writer } from "../util/write.ts";

const LF = 0x0a;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** Output buffers up to this size are kept for reuse. */
const SPARE_LIMIT = 16 * 1024;

/** A bounded queue of lines in front of one writer. */
export class OutputQueue {
  #writer: Writer;
  #onError: (error: unknown) => void;
  #out: Uint8Array = EMPTY;
  #length = 0;
  /** The buffer of the last finished write, reused for the next one while it is small. */
  #spare: Uint8Array = EMPTY;
  #inFlight = 0;
  #draining: Promise<void> | null = null;
  #failed = false;

  /** Writes to `writer`; `onError` hears once about the write that failed (the queue then stops). */
  constructor(writer: Writer, onError: (error: unknown) => void) {
    this.#writer = writer;
    this.#onError = onError;
  }

  /** Bytes queued or being written. */
  get bytes(): number {
    return this.#length + this.#inFlight;
  }

  /** Resolves once everything pushed so far is written, or writing failed. */
  get drained(): Promise<void> {
    return this.#draining ?? Promise.resolve();
  }

  /** Whether a drain task is running (something is queued or being written). */
  get busy(): boolean {
    return this.#draining !== null;
  }

  /**
   * Appends `line` and a `\n`, and makes sure the drain task runs. The bytes are copied, so the
   * caller may reuse them at once. Ignored after a failed write.
   */
  push(line: string | Uint8Array): void {
    if (this.#failed) return;
    if (typeof line === "string") {
      this.#reserve(line.length * 3 + 1);
      this.#length += encoder.encodeInto(line, this.#out.subarray(this.#length)).written;
    } else {
      this.#reserve(line.length + 1);
      this.#out.set(line, this.#length);
      this.#length += line.length;
    }
    this.#out[this.#length++] = LF;
    this.#draining ??= this.#drain();
  }

  /** Resolves once fewer than `limit` bytes are queued, or nothing is being written any more. */
  async below(limit: number): Promise<void> {
    while (this.bytes >= limit && this.#draining !== null) await this.#draining;
  }

  /**
   * Waits at most `timeoutMs` for everything pushed so far to be written; resolves with the bytes
   * still unwritten then (0 when all went out).
   */
  async flush(timeoutMs: number): Promise<number> {
    if (this.#draining === null) return 0;
    const stop = new AbortController();
    await Promise.race([this.#draining, delay(timeoutMs, { signal: stop.signal })]);
    stop.abort();
    return this.bytes;
  }

  /** Forgets what is queued but not yet being written. */
  discard(): void {
    this.#length = 0;
  }

  #reserve(bytes: number): void {
    const needed = this.#length + bytes;
    if (needed <= this.#out.length) return;
    const grown = new Uint8Array(Math.max(needed, this.#out.length * 2, 128));
    grown.set(this.#out.subarray(0, this.#length));
    this.#out = grown;
  }

  async #drain(): Promise<void> {
    // Let the rest of the current job queue its lines first, so that they leave in one write.
    await null;
    try {
      while (this.#length > 0) {
        const buffer = this.#out;
        const out = buffer.subarray(0, this.#length);
        this.#inFlight = out.length;
        this.#out = this.#spare;
        this.#spare = EMPTY;
        this.#length = 0;
        await writeAll(this.#writer, out);
        this.#inFlight = 0;
        if (buffer.length <= SPARE_LIMIT) this.#spare = buffer;
      }
    } catch (error) {
      this.#failed = true;
      this.#inFlight = 0;
      this.#length = 0;
      this.#onError(error);
    } finally {
      this.#draining = null;
    }
  }
}
