/**
 * One client's lifecycle, from accepted to closed: the read loop that hands each line to the mode,
 * and the single close. Where bytes come from is the transport's business ({@linkcode Stream}),
 * how they leave the {@linkcode OutputQueue}'s, what lines mean the mode's.
 *
 * Memory is bounded whatever the client does: the framer holds at most one line, the read buffer
 * follows the traffic, the output queue holds at most `maxQueue` bytes. A client whose own replies
 * back up is not read from until they drain (a pipelining echo client is slowed, not dropped); a
 * client that lets lines from *others* pile up past `maxQueue` is dropped.
 *
 * `close()` stops reading, queues an optional farewell, flushes for at most the drain timeout and
 * closes the socket; a broken socket closes at once. `onClose` runs one microtask later, never
 * inside the call that closed the connection: a `send()` that overflows a queue in the middle of a
 * broadcast closes that connection, and the mode's `leave` (which broadcasts `* x left`) must not
 * run inside the broadcast that caused it.
 */

import { LineFramer, LineTooLongError } from "../protocol/framer.ts";
import type { Stream } from "../transport/transport.ts";
import { describeNetError, formatAddr, ipOf, isDisconnect } from "../util/net.ts";
import type { CloseReason } from "./close_reason.ts";
import { type DeadlineLimits, Deadlines } from "./deadlines.ts";
import type { Member, Mode } from "./modes/mode.ts";
import { OutputQueue } from "./output_queue.ts";
import { ReadBuffer } from "./read_buffer.ts";

/** What every connection from one listener shares: made once, not per connection. */
export interface ConnectionSettings {
  /** How these clients connected, for logs and `/list`: `tcp`, `tls`, `unix`, `ws`. */
  transport: string;
  /** Longest line accepted, in bytes. */
  maxLine: number;
  /** Most bytes that may wait to be written before the client is dropped. */
  maxQueue: number;
  /** How long a closing connection may take to flush what is queued, in milliseconds. */
  drainTimeoutMs: number;
  /** Idle and line timeouts. */
  deadlines: DeadlineLimits;
  /** Called once per connection, one microtask after it starts closing. */
  onClose?: (conn: Connection, reason: CloseReason) => void;
}

/** Options for a {@linkcode Connection}. */
export interface ConnectionOptions {
  /** Server-wide number of this connection, from 1. */
  id: number;
  settings: ConnectionSettings;
}

/** One client, from accept to close. */
export class Connection implements Member {
  readonly id: number;
  readonly connectedAt: number = Date.now();
  #stream: Stream;
  #settings: ConnectionSettings;
  #output: OutputQueue;
  #deadlines = new Deadlines(performance.now());
  #linesIn = 0;
  #linesOut = 0;
  #closing: CloseReason | null = null;
  #detail: string | undefined;
  #finished: Promise<void> | null = null;
  /** Bytes still queued when the drain timeout cut the close short. */
  #unsent = 0;
  /** Resolved when closing starts, for a read loop that waits with nothing to read. */
  #closingStarted: PromiseWithResolvers<void> | undefined;

  constructor(stream: Stream, options: ConnectionOptions) {
    this.id = options.id;
    this.#stream = stream;
    this.#settings = options.settings;
    this.#output = new OutputQueue(
      stream,
      (error) =>
        this.#abort(
          isDisconnect(error) ? describeNetError(error) : `write failed: ${describeNetError(error)}`,
        ),
    );
    try {
      stream.setNoDelay?.(true);
    } catch {
      // The client may already be gone; the first read will say so.
    }
  }

  /** The client's address as people read it. */
  get remote(): string {
    return formatAddr(this.#stream.remoteAddr);
  }

  /** The client's IP address; `undefined` for a Unix socket. */
  get ip(): string | undefined {
    return ipOf(this.#stream.remoteAddr);
  }

  get transport(): string {
    return this.#settings.transport;
  }

  get linesIn(): number {
    return this.#linesIn;
  }

  get linesOut(): number {
    return this.#linesOut;
  }

  /** Why it is closing or closed; `null` while open. */
  get closeReason(): CloseReason | null {
    return this.#closing;
  }

  /** Bytes that were still queued when the drain timeout closed the socket anyway. */
  get unsent(): number {
    return this.#unsent;
  }

  /** What the reason alone does not say: how a connection was lost, which internal error. */
  get closeDetail(): string | undefined {
    return this.#detail;
  }

  /**
   * Queues one line (without its `\n`) for the client. Bytes are copied, so the caller may reuse
   * them at once. Ignored once closing; a client whose queue overflows is disconnected.
   */
  send(line: string | Uint8Array): void {
    if (this.#closing !== null) return;
    this.#output.push(line);
    this.#linesOut++;
    const { maxQueue } = this.#settings;
    if (this.#output.bytes > maxQueue) {
      this.#output.discard();
      this.#reject("output queue full", `output queue full (max ${maxQueue} bytes)`);
    }
  }

  /**
   * Starts closing: reads stop, `farewell` (if any) is queued as the last line, what is queued is
   * flushed for at most the drain timeout, then the socket closes. Only the first call counts.
   */
  close(reason: CloseReason, farewell?: string): void {
    if (this.#closing !== null) return;
    this.#closing = reason;
    if (farewell !== undefined) {
      this.#output.push(farewell);
      this.#linesOut++;
    }
    this.#finished = this.#finish();
    this.#announce(reason);
  }

  /**
   * Reads lines and hands each to `mode` until the connection closes; resolves with the reason
   * once the socket is closed. Never rejects: every way a connection can end is a reason.
   */
  async serve(mode: Mode): Promise<CloseReason> {
    const framer = new LineFramer(this.#settings.maxLine);
    // Back-pressure: stop reading from a client whose replies are not being taken.
    const highWater = Math.max(this.#settings.maxQueue / 2, 1);
    const buffer = new ReadBuffer();
    try {
      const joined = mode.join(this);
      if (joined !== undefined) await joined;
      while (this.#closing === null) {
        if (this.#output.bytes >= highWater) {
          // While we are not reading, the client's silence is ours, not its: the clocks stop.
          this.#deadlines.pause(true);
          await this.#output.below(highWater);
          this.#deadlines.pause(false);
        }
        if (this.#closing !== null) break;
        const n = await this.#stream.read(buffer.bytes);
        // Bytes that arrive after closing began are not served: the client is told why instead.
        if (this.#closing !== null) break;
        if (n === null) {
          if (mode.ended?.(this) === "keep open") await this.#whenClosing();
          else this.close("client closed");
          break;
        }
        const linesBefore = this.#linesIn;
        framer.feed(buffer.bytes.subarray(0, n));
        for (let line = framer.next(); line !== null; line = framer.next()) {
          this.#linesIn++;
          const step = mode.line(this, line);
          if (step !== undefined) await step;
          if (this.#closing !== null) break;
        }
        this.#deadlines.input(performance.now(), this.#linesIn !== linesBefore, framer.buffered > 0);
        buffer.fit(n);
      }
    } catch (error) {
      if (error instanceof LineTooLongError) this.#reject("line too long", error.message);
      else if (isDisconnect(error)) this.#abort(describeNetError(error));
      else this.#reject("internal error", "internal error", String(error));
    }
    await this.#finished;
    return this.#closing!;
  }

  /**
   * Closes the connection if it has been silent past the idle timeout, or has spent longer than
   * the line timeout on one line (slowloris). The server calls it periodically for every client,
   * which is cheaper than a timer per read.
   */
  enforceTimeouts(now: number = performance.now()): void {
    if (this.#closing !== null) return;
    const expired = this.#deadlines.expired(now, this.#settings.deadlines);
    if (expired !== undefined) this.#reject(expired, expired);
  }

  /** Resolves once closing has started, whoever started it. */
  #whenClosing(): Promise<void> {
    if (this.#closing !== null) return Promise.resolve();
    this.#closingStarted ??= Promise.withResolvers();
    return this.#closingStarted.promise;
  }

  /** Closes for breaking a limit: `ERR <message>` is the last line the client gets. */
  #reject(reason: CloseReason, message: string, detail?: string): void {
    if (this.#closing !== null) return;
    this.#detail = detail;
    this.close(reason, `ERR ${message}`);
  }

  /** Ends the connection at once, without flushing: the peer is gone or the socket is broken. */
  #abort(detail: string): void {
    if (this.#closing === null) {
      this.#closing = "connection lost";
      this.#detail = detail;
      this.#output.discard();
      this.#announce(this.#closing);
    }
    this.#closeSocket();
    this.#finished ??= Promise.resolve();
  }

  #announce(reason: CloseReason): void {
    this.#closingStarted?.resolve();
    const onClose = this.#settings.onClose;
    if (onClose !== undefined) queueMicrotask(() => onClose(this, reason));
  }

  async #finish(): Promise<void> {
    this.#unsent = await this.#output.flush(this.#settings.drainTimeoutMs);
    this.#closeSocket();
  }

  #closeSocket(): void {
    try {
      this.#stream.close();
    } catch {
      // Already closed: #finish and #abort can both get here.
    }
  }
}
