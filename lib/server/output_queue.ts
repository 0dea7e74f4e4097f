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
 * Buffers come from a {@linkcode BufferPool} shared by every connection of a server and go back to
 * it as soon as the queue is empty, so a busy connection allocates nothing per write and an idle
 * one holds no buffer at all.
 *
 * The queue does not decide what happens when it grows; it says how much it holds and when a
 * write last made progress, and its owner decides (stop reading from the client, or drop it).
 */

import { delay } from "../util/delay.ts";
import { writeAll, type WriteProgress, type Writer } from "../util/write.ts";

const LF = 0x0a;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** The size of a pooled buffer; a queue that needs more gets a buffer of its own for a while. */
const POOLED_SIZE = 2 * 1024;

/**
 * Output buffers of {@linkcode POOLED_SIZE} bytes, lent to queues while they have something to
 * write. It keeps at most `limit` idle buffers, so it never holds more than `limit` x 2 KiB.
 */
export class BufferPool {
  #free: Uint8Array[] = [];
  #limit: number;

  /** @param limit Most idle buffers kept. */
  constructor(limit = 256) {
    this.#limit = limit;
  }

  /** A buffer of at least `bytes` bytes. */
  take(bytes: number): Uint8Array {
    if (bytes <= POOLED_SIZE) return this.#free.pop() ?? new Uint8Array(POOLED_SIZE);
    return new Uint8Array(bytes);
  }

  /** Takes a buffer back; a large one, or one too many, is left to the garbage collector. */
  give(buffer: Uint8Array): void {
    if (buffer.length === POOLED_SIZE && this.#free.length < this.#limit) this.#free.push(buffer);
  }
}

/** Who hears that a write failed: the queue's connection. */
export interface QueueOwner {
  /** A write failed; the queue has stopped and drops what it is given. Called once. */
  writeFailed(error: unknown): void;
}

/** A bounded queue of lines in front of one writer. */
export class OutputQueue implements WriteProgress {
  #writer: Writer;
  #pool: BufferPool;
  #owner: QueueOwner;
  #out: Uint8Array = EMPTY;
  #length = 0;
  #inFlight = 0;
  #draining: Promise<void> | null = null;
  #failed = false;
  /** Who waits for the queue to shrink below a size (back-pressure); rarely anyone. */
  #waiters: { limit: number; resolve: () => void }[] | undefined;
  /** Writes that took bytes, so far: what tells a socket that drains from one that stalled. */
  #writes = 0;
  #written = 0;

  /** Writes to `writer` with buffers from `pool`; `owner` hears about a failed write. */
  constructor(writer: Writer, pool: BufferPool, owner: QueueOwner) {
    this.#writer = writer;
    this.#pool = pool;
    this.#owner = owner;
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
   * How many writes have taken bytes so far. While bytes are in flight, a socket whose peer reads
   * keeps this moving however much is queued; one whose peer stopped reading lets it stand still.
   */
  get writes(): number {
    return this.#writes;
  }

  /** Bytes written so far. */
  get written(): number {
    return this.#written;
  }

  /** Whether bytes are being written (a write is in flight). */
  get writing(): boolean {
    return this.#inFlight > 0;
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
  below(limit: number): Promise<void> {
    if (this.bytes < limit || this.#draining === null) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    (this.#waiters ??= []).push({ limit, resolve });
    return promise;
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

  /** A write took `bytes`: the peer is reading. */
  wrote(bytes: number): void {
    this.#writes++;
    this.#written += bytes;
  }

  #reserve(bytes: number): void {
    const needed = this.#length + bytes;
    if (needed <= this.#out.length) return;
    const grown = this.#pool.take(Math.max(needed, this.#out.length * 2));
    grown.set(this.#out.subarray(0, this.#length));
    this.#pool.give(this.#out);
    this.#out = grown;
  }

  async #drain(): Promise<void> {
    // Let the rest of the current job queue its lines first, so that they leave in one write.
    await null;
    try {
      while (this.#length > 0) {
        const buffer = this.#out;
        this.#inFlight = this.#length;
        this.#out = EMPTY;
        this.#length = 0;
        await writeAll(this.#writer, buffer.subarray(0, this.#inFlight), this);
        this.#inFlight = 0;
        this.#pool.give(buffer);
        if (this.#waiters !== undefined) this.#wake(false);
      }
    } catch (error) {
      this.#failed = true;
      this.#inFlight = 0;
      this.#length = 0;
      this.#owner.writeFailed(error);
    } finally {
      this.#pool.give(this.#out);
      this.#out = EMPTY;
      this.#draining = null;
      if (this.#waiters !== undefined) this.#wake(true);
    }
  }

  /** Lets go of the waiters whose size has been reached (all of them once nothing is written). */
  #wake(all: boolean): void {
    const waiting = this.#waiters!.filter((waiter) => {
      if (!all && this.bytes >= waiter.limit) return true;
      waiter.resolve();
      return false;
    });
    this.#waiters = waiting.length > 0 ? waiting : undefined;
  }
}
