/**
 * A stream with no socket behind it, for unit tests of the server core: the test decides what
 * each read returns and how writes behave (partial, slow, failing), and sees every byte written.
 * It implements the transport seam's `Stream`, so the code under test cannot tell it from a
 * socket.
 */

import type { Stream } from "../../lib/transport/transport.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Options for {@linkcode FakeStream}. */
export interface FakeStreamOptions {
  /** Most bytes one write takes. @default {Infinity} */
  maxWrite?: number;
  /** When set, every write waits for {@linkcode FakeStream.release} before it completes. */
  slow?: boolean;
  /** The peer's port, to tell fakes apart. @default {5555} */
  port?: number;
}

/** An in-memory `Stream`. */
export class FakeStream implements Stream {
  readonly remoteAddr: Deno.NetAddr;
  /** Every chunk passed to `write()` and taken, in order. */
  readonly writes: Uint8Array[] = [];
  /** How many times `write()` was called. */
  writeCalls = 0;
  closed = false;
  #maxWrite: number;
  #slow: boolean;
  #chunks: (Uint8Array | null)[] = [];
  #readWaiter: (() => void) | undefined;
  #writeGates: (() => void)[] = [];
  #failure: Error | undefined;

  constructor(options: FakeStreamOptions = {}) {
    this.remoteAddr = { transport: "tcp", hostname: "127.0.0.1", port: options.port ?? 5555 };
    this.#maxWrite = options.maxWrite ?? Infinity;
    this.#slow = options.slow ?? false;
  }

  /** Everything written so far, decoded. */
  get written(): string {
    return this.writes.map((chunk) => decoder.decode(chunk)).join("");
  }

  /** Makes the next read return `data` (the chunks stay separate: one read each). */
  receive(...data: (string | Uint8Array)[]): void {
    for (const chunk of data) this.#chunks.push(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
    this.#wake();
  }

  /** Makes a read return the end of the stream, after what was received. */
  end(): void {
    this.#chunks.push(null);
    this.#wake();
  }

  /** Lets the oldest slow write that is waiting complete. */
  release(): void {
    this.#writeGates.shift()?.();
  }

  /** Writes waiting for {@linkcode release}. */
  get waitingWrites(): number {
    return this.#writeGates.length;
  }

  /** Makes every later write fail with `error`. */
  failWrites(error: Error): void {
    this.#failure = error;
    for (const gate of this.#writeGates.splice(0)) gate();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.closed) throw new Deno.errors.BadResource("closed");
      await new Promise<void>((resolve) => this.#readWaiter = resolve);
    }
    if (this.closed) throw new Deno.errors.BadResource("closed");
    const chunk = this.#chunks[0];
    if (chunk === null) return null;
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    return n;
  }

  async write(p: Uint8Array): Promise<number> {
    this.writeCalls++;
    if (this.#slow) await new Promise<void>((resolve) => this.#writeGates.push(resolve));
    if (this.#failure) throw this.#failure;
    if (this.closed) throw new Deno.errors.BadResource("closed");
    const n = Math.min(p.length, this.#maxWrite);
    this.writes.push(p.slice(0, n));
    return n;
  }

  closeWrite(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    if (this.closed) throw new Deno.errors.BadResource("closed twice");
    this.closed = true;
    this.#wake();
    for (const gate of this.#writeGates.splice(0)) gate();
  }

  #wake(): void {
    const waiter = this.#readWaiter;
    this.#readWaiter = undefined;
    waiter?.();
  }
}
