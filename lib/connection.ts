/**
 * One client connection: its identity, its line reader, its output buffer and its single close.
 *
 * Exactly one task writes to the socket. `send()` only appends a line to the connection's output
 * buffer and makes sure a drain task is running; the drain task writes everything queued so far in
 * one `write` (looping over partial writes), then whatever was queued meanwhile. Under load that
 * coalesces many lines into each system call; at rest a line goes out after one microtask.
 *
 * Memory per connection is bounded whatever the client does: the framer holds at most one line,
 * the read buffer is small and grows only while reads fill it, and the output buffer may hold at
 * most `maxQueue` bytes. A client whose own output backs up is not read from until it drains (so a
 * pipelining echo client is slowed, not dropped); a client that lets lines from *others* pile up
 * past `maxQueue` is disconnected, so it can neither stall the sender nor grow the server.
 */

import { LineFramer, LineTooLongError } from "./lines.ts";
import { describeNetError, formatAddress, isDisconnect } from "./net.ts";

const LF = 0x0a;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** Read buffer sizes: small while idle, four times larger after each read that fills it. */
const MIN_READ = 64;
const MAX_READ = 64 * 1024;
/** Output buffers up to this size are kept for reuse. */
const SPARE_LIMIT = 16 * 1024;

/** Options for a {@linkcode Connection}. */
export interface ConnectionOptions {
  /** Server-wide number of this connection, from 1. */
  id: number;
  /** Longest line accepted, in bytes. */
  maxLine: number;
  /** Most bytes that may wait to be written before the client is dropped. */
  maxQueue: number;
  /** How long a closing connection may take to flush what is queued, in milliseconds. */
  drainTimeoutMs: number;
  /** Close a client that has sent nothing for this long, in milliseconds; 0 for never. */
  idleTimeoutMs?: number;
  /** Close a client that takes longer than this to finish a line it started; 0 for never. */
  lineTimeoutMs?: number;
  /** Called once, synchronously, when the connection starts closing. */
  onClose?: (conn: Connection, reason: string) => void;
}

/** One client, from accept to close. */
export class Connection {
  readonly id: number;
  /** The client's address, `host:port`. */
  readonly remote: string;
  /** The client's IP address. */
  readonly remoteHostname: string;
  // A number, not a Temporal.Instant: thousands of idle connections each keep one.
  #connectedAtMs = Date.now();

  #conn: Deno.TcpConn;
  #options: ConnectionOptions;
  #out: Uint8Array = EMPTY;
  #outLength = 0;
  /** The buffer of the last finished write, reused for the next one while it is small. */
  #spare: Uint8Array = EMPTY;
  /** True while the lines of one read are being handed to the mode. */
  #dispatching = false;
  #inFlight = 0;
  #writing: Promise<void> | null = null;
  #closeReason: string | null = null;
  #closed = Promise.withResolvers<string>();
  #linesIn = 0;
  #linesOut = 0;
  #violation = false;
  #lastInputAt = performance.now();
  #lineStartedAt = 0;
  #paused = false;

  constructor(conn: Deno.TcpConn, options: ConnectionOptions) {
    this.#conn = conn;
    this.#options = options;
    this.id = options.id;
    this.remoteHostname = conn.remoteAddr.hostname;
    this.remote = formatAddress(conn.remoteAddr.hostname, conn.remoteAddr.port);
    try {
      // Lines are small and interactive: never let Nagle hold one back waiting for an ACK.
      conn.setNoDelay(true);
    } catch {
      // The client may already be gone; the first read will say so.
    }
  }

  /** When the client connected. */
  get connectedAt(): Temporal.Instant {
    return Temporal.Instant.fromEpochMilliseconds(this.#connectedAtMs);
  }

  /** Lines received from the client. */
  get linesIn(): number {
    return this.#linesIn;
  }

  /** Lines queued for the client. */
  get linesOut(): number {
    return this.#linesOut;
  }

  /** Bytes queued or being written. */
  get queuedBytes(): number {
    return this.#outLength + this.#inFlight;
  }

  /** Whether the server closed it for breaking a limit (or a bug), not in the ordinary course. */
  get closedForViolation(): boolean {
    return this.#violation;
  }

  /** Resolves with the reason once the socket is closed. */
  get closed(): Promise<string> {
    return this.#closed.promise;
  }

  /**
   * Queues one line (without its `\n`) for the client. Bytes are copied, so the caller may reuse
   * them at once. Ignored once closing; a client whose queue overflows is disconnected.
   */
  send(line: string | Uint8Array): void {
    if (this.#closeReason !== null) return;
    this.#append(line);
    if (this.queuedBytes > this.#options.maxQueue) {
      this.#outLength = 0;
      this.reject("output queue full", `output queue full (max ${this.#options.maxQueue} bytes)`);
      return;
    }
    // Replies to the lines of a read leave together after the read (see serve()); lines from
    // elsewhere wait one microtask so that the rest of a broadcast joins them.
    if (!this.#dispatching) this.#writing ??= this.#drain(true);
  }

  /**
   * Starts closing: reads stop, `farewell` (if any) is queued as the last line, what is queued is
   * flushed for at most `drainTimeoutMs`, then the socket closes. Only the first call counts.
   */
  close(reason: string, farewell?: string): void {
    if (this.#closeReason !== null) return;
    this.#closeReason = reason;
    if (farewell !== undefined) this.#append(farewell);
    // Also when closing in the middle of handling a read, whose replies wait for its end.
    if (this.#outLength > 0) this.#writing ??= this.#drain(true);
    this.#options.onClose?.(this, reason);
    void this.#finish();
  }

  /**
   * Reads lines and hands each to `onLine` until the connection closes; resolves with the reason.
   * Never rejects: every way a connection can end is a reason.
   */
  async serve(onLine: (conn: Connection, line: Uint8Array) => void): Promise<string> {
    const framer = new LineFramer(this.#options.maxLine);
    const deliver = (line: Uint8Array) => {
      this.#linesIn++;
      onLine(this, line);
    };
    // Back-pressure: stop reading from a client whose replies are not being taken.
    const highWater = Math.max(this.#options.maxQueue / 2, 1);
    let buffer = new Uint8Array(MIN_READ);
    try {
      while (this.#closeReason === null) {
        // While we are not reading, the client's silence is ours, not its: timeouts wait.
        this.#paused = true;
        while (this.queuedBytes >= highWater && this.#writing !== null) await this.#writing;
        this.#paused = false;
        if (this.#closeReason !== null) break;
        const n = await this.#conn.read(buffer);
        // Bytes that arrive after closing began are not served: the client is told why instead.
        if (this.#closeReason !== null) break;
        if (n === null) {
          this.close("client closed");
          break;
        }
        const now = performance.now();
        const linesBefore = this.#linesIn;
        this.#lastInputAt = now;
        this.#dispatching = true;
        try {
          framer.push(buffer.subarray(0, n), deliver);
        } finally {
          this.#dispatching = false;
        }
        if (this.#outLength > 0) this.#writing ??= this.#drain(false);
        // A line starts with its first byte: a read that finished lines and began another restarts
        // the clock, a read that only added to the unfinished line does not.
        if (framer.buffered === 0) this.#lineStartedAt = 0;
        else if (this.#lineStartedAt === 0 || this.#linesIn !== linesBefore) this.#lineStartedAt = now;
        // Size the next read from this one: a full buffer means more is waiting, a mostly empty one
        // (an idle client's occasional line) should not keep a large buffer pinned by a read.
        if (n === buffer.length && buffer.length < MAX_READ) buffer = new Uint8Array(buffer.length * 4);
        else if (n < buffer.length / 8 && buffer.length > MIN_READ) {
          buffer = new Uint8Array(buffer.length / 4);
        }
      }
    } catch (error) {
      if (error instanceof LineTooLongError) this.reject("line too long", error.message);
      else if (isDisconnect(error)) this.#abort(describeNetError(error));
      else {this.reject(
          `internal error: ${error instanceof Error ? error.message : String(error)}`,
          "internal error",
        );}
    }
    return await this.#closed.promise;
  }

  /** Closes for breaking a limit: `ERR <message>` is the last line the client gets. */
  reject(reason: string, message: string): void {
    if (this.#closeReason !== null) return;
    this.#violation = true;
    this.close(reason, `ERR ${message}`);
  }

  /**
   * Closes the connection if it has been silent past the idle timeout, or has spent longer than
   * the line timeout on one line (slowloris). The server calls it periodically for every client,
   * which is cheaper than a timer per read.
   */
  enforceTimeouts(now: number = performance.now()): void {
    if (this.#closeReason !== null || this.#paused) return;
    const { idleTimeoutMs = 0, lineTimeoutMs = 0 } = this.#options;
    if (lineTimeoutMs > 0 && this.#lineStartedAt > 0 && now - this.#lineStartedAt > lineTimeoutMs) {
      this.reject("line timeout", "line timeout");
    } else if (idleTimeoutMs > 0 && now - this.#lastInputAt > idleTimeoutMs) {
      this.reject("idle timeout", "idle timeout");
    }
  }

  #append(line: string | Uint8Array): void {
    if (typeof line === "string") {
      this.#reserve(line.length * 3 + 1);
      this.#outLength += encoder.encodeInto(line, this.#out.subarray(this.#outLength)).written;
    } else {
      this.#reserve(line.length + 1);
      this.#out.set(line, this.#outLength);
      this.#outLength += line.length;
    }
    this.#out[this.#outLength++] = LF;
    this.#linesOut++;
  }

  #reserve(bytes: number): void {
    const needed = this.#outLength + bytes;
    if (needed <= this.#out.length) return;
    const grown = new Uint8Array(Math.max(needed, this.#out.length * 2, 128));
    grown.set(this.#out.subarray(0, this.#outLength));
    this.#out = grown;
  }

  async #drain(deferred: boolean): Promise<void> {
    // Let the rest of the current job (the rest of a broadcast) queue its lines first, so that
    // they leave in one write.
    if (deferred) await null;
    try {
      while (this.#outLength > 0) {
        const buffer = this.#out;
        const out = buffer.subarray(0, this.#outLength);
        this.#inFlight = out.length;
        this.#out = this.#spare;
        this.#spare = EMPTY;
        this.#outLength = 0;
        let written = 0;
        while (written < out.length) written += await this.#conn.write(out.subarray(written));
        this.#inFlight = 0;
        // Two buffers take turns, so a busy connection allocates nothing per write; a large one
        // (after a burst) is let go rather than kept by a connection that may now be idle.
        if (buffer.length <= SPARE_LIMIT) this.#spare = buffer;
      }
    } catch (error) {
      this.#inFlight = 0;
      this.#outLength = 0;
      this.#abort(isDisconnect(error) ? describeNetError(error) : `write failed: ${describeNetError(error)}`);
    } finally {
      this.#writing = null;
    }
  }

  async #finish(): Promise<void> {
    if (this.#writing !== null) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#options.drainTimeoutMs);
      });
      await Promise.race([this.#writing, deadline]);
      clearTimeout(timer);
    }
    this.#closeSocket();
  }

  /** Ends the connection at once, without flushing: the peer is gone or the socket is broken. */
  #abort(reason: string): void {
    if (this.#closeReason === null) {
      this.#closeReason = reason;
      this.#outLength = 0;
      this.#options.onClose?.(this, reason);
    }
    this.#closeSocket();
  }

  #closeSocket(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed: #finish and #abort can both get here.
    }
    this.#closed.resolve(this.#closeReason ?? "closed");
  }
}
