/**
 * One client's lifecycle, from accepted to closed: the read loop that hands each line to the mode,
 * and the single close. Where bytes come from is the transport's business ({@linkcode Stream}),
 * how they leave the {@linkcode OutputQueue}'s, what lines mean the mode's.
 *
 * Memory is bounded whatever the client does: the framer holds at most one line, the read buffer
 * follows the traffic, and the output queue is capped. Overload slows the senders and never drops
 * a client that reads: a client whose own replies back up is not read from until they drain (a
 * pipelining echo client is slowed, not dropped), and in a room every sender waits while any
 * member's output is backed up but still draining ({@linkcode Congestion}). A slow consumer, a
 * client whose socket has stopped taking bytes for {@linkcode STALL_MS}, is dropped once its queue
 * passes `maxQueue`; any client is dropped past twice that, which bounds the memory it can cost.
 *
 * `close()` stops reading, queues an optional farewell, flushes for at most the drain timeout and
 * closes the socket gracefully: a FIN first, then the socket closes once the client has closed its
 * side too, or after {@linkcode LINGER_MS}, so that no reset destroys what the client has not read
 * yet. A broken socket closes at once. `onClose` runs one microtask later, never
 * inside the call that closed the connection: a `send()` that overflows a queue in the middle of a
 * broadcast closes that connection, and the mode's `leave` (which broadcasts `* x left`) must not
 * run inside the broadcast that caused it.
 */

import { LineFramer, LineTooLongError } from "../protocol/framer.ts";
import { type Stream, type StreamEnd, StreamViolation } from "../transport/transport.ts";
import { closeQuietly } from "../util/close_quietly.ts";
import { describeNetError, formatAddr, ipOf, isDisconnect } from "../util/net.ts";
import { type CloseReason, isViolation } from "./close_reason.ts";
import type { Congestion } from "./congestion.ts";
import { type Clock, type DeadlineLimits, Deadlines } from "./deadlines.ts";
import type { Member, Mode } from "./modes/mode.ts";
import { type BufferPool, OutputQueue, type QueueOwner } from "./output_queue.ts";
import { type RateLimit, TokenBucket } from "./rate.ts";
import { ReadBuffer } from "./read_buffer.ts";
import { delay } from "../util/delay.ts";
import type { Turns } from "./rounds.ts";

/** A socket that has taken no bytes for this long, with bytes waiting for it, has stopped reading. */
export const STALL_MS = 1000;
/**
 * After its last byte and a FIN, how long a closing connection waits for the client to close its
 * side before the socket closes anyway; and the most it reads and drops meanwhile (see `#finish`).
 */
export const LINGER_MS = 1000;
const LINGER_BYTES = 64 * 1024;

/** What every connection from one listener shares: made once, not per connection. */
export interface ConnectionSettings {
  /** How these clients connected, for logs and `/list`: `tcp`, `tls`, `unix`, `ws`. */
  transport: string;
  /** Longest line accepted, in bytes. */
  maxLine: number;
  /** Bytes that may wait for a client that has stopped reading before it is dropped. */
  maxQueue: number;
  /** How long a closing connection may take to flush what is queued, in milliseconds. */
  drainTimeoutMs: number;
  /** Idle and line timeouts. */
  deadlines: DeadlineLimits;
  /** The time deadlines are measured in, advanced by whoever enforces them. */
  clock: Clock;
  /** Every connection reads at most once per round (see `rounds.ts`). */
  rounds: Turns;
  /** Output buffers, lent while a connection has something to write. */
  pool: BufferPool;
  /** The room's back-pressure, for modes whose lines go to everyone. */
  congestion: Congestion;
  /** Flood control (`--rate`): how fast a client may send lines. @default {no limit} */
  rate?: RateLimit;
  /**
   * A client over the rate for this long without a break is closed (`--rate-kick`), in
   * milliseconds; 0 for never. @default {0}
   */
  rateKickMs?: number;
  /** Called once per connection, the first time a line of it waits for its token (`--rate`). */
  onRateLimited?: (conn: Connection) => void;
  /** Called once per connection, one microtask after it starts closing. */
  onClose?: (conn: Connection, reason: CloseReason) => void;
  /**
   * Called once per connection, the first time its reads have waited {@linkcode STALL_MS} for its
   * own replies to be taken: it sends faster than it reads, and is being held back.
   */
  onThrottled?: (conn: Connection) => void;
  /** Called once per connection when its socket is closed and `serve()` is about to resolve. */
  onFinished?: (conn: Connection) => void;
}

/** Options for a {@linkcode Connection}. */
export interface ConnectionOptions {
  /** Server-wide number of this connection, from 1. */
  id: number;
  settings: ConnectionSettings;
}

/** One client, from accept to close. */
export class Connection implements Member, QueueOwner {
  readonly id: number;
  readonly connectedAt: number = Date.now();
  #stream: Stream;
  #settings: ConnectionSettings;
  #output: OutputQueue;
  #deadlines: Deadlines;
  #linesIn = 0;
  #linesOut = 0;
  #bytesIn = 0;
  /** The round of this connection's last read. */
  #round = -1;
  /** Set while this client's output is backed up: the timer that checks whether it still drains. */
  #stallWatch: ReturnType<typeof setTimeout> | undefined;
  /** Its socket took no bytes for {@linkcode STALL_MS} while lines waited: a slow consumer. */
  #stalled = false;
  /** The server has been told this client is throttled (once is enough). */
  #throttled = false;
  /** Flood control: the client's tokens, and since when it has been over the rate. */
  #bucket: TokenBucket | undefined;
  #overRateSince: number | undefined;
  #toldToSlowDown = false;
  /** Aborted when closing starts, for a wait that closing must cut short (made when first needed). */
  #closingSignal: AbortController | undefined;
  #closing: CloseReason | null = null;
  #detail: string | undefined;
  /** What the client was told last when it broke a limit (its `ERR` line, without `ERR`). */
  #endMessage: string | undefined;
  #finished: Promise<void> | null = null;
  /** Bytes still queued when the drain timeout cut the close short. */
  #unsent = 0;
  /** Resolved when closing starts, for a read loop that waits with nothing to read. */
  #closingStarted: PromiseWithResolvers<void> | undefined;
  /** Resolved once nothing more will come: the client's end, or a broken socket. */
  #inputDone = Promise.withResolvers<void>();
  #socketClosed = false;

  constructor(stream: Stream, options: ConnectionOptions) {
    this.id = options.id;
    this.#stream = stream;
    this.#settings = options.settings;
    this.#deadlines = new Deadlines(options.settings.clock.now);
    this.#output = new OutputQueue(stream, options.settings.pool, this);
    const { rate } = options.settings;
    if (rate !== undefined) this.#bucket = new TokenBucket(rate, performance.now());
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
  get overRate(): boolean {
    return this.#overRateSince !== undefined;
  }

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

  /** Bytes read from the client, and written to it. */
  get bytesIn(): number {
    return this.#bytesIn;
  }

  get bytesOut(): number {
    return this.#output.written;
  }

  /** Bytes waiting to be written to the client. */
  get queued(): number {
    return this.#output.bytes;
  }

  /** Called by its output queue: the socket broke while writing. */
  writeFailed(error: unknown): void {
    this.#abort(isDisconnect(error) ? describeNetError(error) : `write failed: ${describeNetError(error)}`);
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
   * them at once. Ignored once closing; a client that has stopped reading is dropped once its queue
   * overflows.
   */
  send(line: string | Uint8Array): void {
    if (this.#closing !== null) return;
    this.#output.push(line);
    this.#linesOut++;
    if (this.#output.bytes >= this.#settings.maxQueue / 2) this.#backedUp();
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
    const { maxLine, maxQueue, rounds, congestion } = this.#settings;
    const framer = new LineFramer(maxLine);
    const highWater = Math.max(maxQueue / 2, 1);
    const shared = mode.backPressure === "shared";
    const buffer = new ReadBuffer();
    let ended = false;
    try {
      const joined = mode.join(this);
      if (joined !== undefined) await joined;
      while (this.#closing === null) {
        // Back-pressure: a client whose replies are not taken, or a shared mode with a member backed up,
        // is not read from. Meanwhile the client's silence is ours, not its: the clocks stop.
        if (this.#output.bytes >= highWater) await this.#paused(this.#output.below(highWater), true);
        const cleared = shared ? congestion.cleared() : undefined;
        if (cleared !== undefined) await this.#paused(cleared);
        if (this.#closing !== null) break;
        // One read per round, so that a saturated server serves everyone in turn.
        const turn = rounds.after(this.#round);
        if (turn !== undefined) await turn;
        if (this.#closing !== null) break;
        this.#round = rounds.current;
        const n = await this.#stream.read(buffer.bytes);
        if (n === null) ended = true;
        // Bytes that arrive after closing began are not served: the client is told why instead.
        if (this.#closing !== null) break;
        if (n === null) {
          // A half-closed client may still read the answers (TCP); one whose transport ended both
          // directions (a WebSocket close frame) is gone, whatever the mode would like.
          if (this.#stream.halfOpen !== false && mode.ended?.(this) === "keep open") {
            await this.#whenClosing();
          } else this.close("client closed");
          break;
        }
        const linesBefore = this.#linesIn;
        this.#bytesIn += n;
        framer.feed(buffer.bytes.subarray(0, n));
        for (let line = framer.next(); line !== null; line = framer.next()) {
          // Backed up in the middle of a read (its own replies, or the room): the rest of the read
          // waits, in its buffer, so that one read's replies cannot overshoot the queue.
          if (this.#output.bytes >= highWater) await this.#paused(this.#output.below(highWater), true);
          const cleared = shared ? congestion.cleared() : undefined;
          if (cleared !== undefined) await this.#paused(cleared);
          if (this.#closing !== null) break;
          // Flood control costs one subtraction a line while the client keeps under the rate.
          const wait = this.#bucket?.take(performance.now()) ?? 0;
          if (wait === 0) this.#overRateSince = undefined;
          else await this.#overRate(wait);
          if (this.#closing !== null) break;
          this.#linesIn++;
          const step = mode.line(this, line);
          if (step !== undefined) await step;
          if (this.#closing !== null) break;
        }
        this.#deadlines.input(this.#settings.clock.now, this.#linesIn !== linesBefore, framer.buffered > 0);
        buffer.fit(n);
      }
    } catch (error) {
      if (error instanceof LineTooLongError) this.#reject("line too long", error.message);
      else if (error instanceof StreamViolation) this.#reject("protocol error", error.message, error.message);
      // A TLS client that closed without saying goodbye (close_notify), as many do: its end all the same.
      else if (error instanceof Deno.errors.UnexpectedEof) this.close("client closed");
      else if (isDisconnect(error)) this.#abort(describeNetError(error));
      else this.#reject("internal error", "internal error", String(error));
      ended = true;
    }
    if (!ended && this.#closing !== "connection lost") ended = await this.#dropInput(buffer.bytes);
    // Past the byte cap the client is still sending: the linger then runs its full time.
    if (ended) this.#inputDone.resolve();
    await this.#finished;
    this.#settings.onFinished?.(this);
    return this.#closing!;
  }

  /**
   * Closes the connection if it has been silent past the idle timeout, or has spent longer than
   * the line timeout on one line (slowloris). The server calls it periodically for every client,
   * which is cheaper than a timer per read.
   */
  enforceTimeouts(now: number = this.#settings.clock.now): void {
    if (this.#closing !== null) return;
    const expired = this.#deadlines.expired(now, this.#settings.deadlines);
    if (expired !== undefined) this.#reject(expired, expired);
  }

  /**
   * The output passed half of `maxQueue`. While the socket drains, the room's senders wait for it;
   * once it has stopped draining for {@linkcode STALL_MS} it no longer holds them, and past
   * `maxQueue` it is dropped. Past twice `maxQueue` it is dropped whatever it does.
   */
  #backedUp(): void {
    const { maxQueue, congestion } = this.#settings;
    const bytes = this.#output.bytes;
    if (bytes > 2 * maxQueue || (bytes > maxQueue && this.#stalled)) return this.#overflowed();
    if (this.#stallWatch !== undefined) return;
    congestion.add(this);
    // Every quarter of STALL_MS: has a write taken bytes since the last look?
    let seen = this.#output.writes;
    let quiet = 0;
    const check = () => {
      if (this.#closing !== null) return;
      const moved = this.#output.writes !== seen || !this.#output.writing;
      seen = this.#output.writes;
      quiet = moved ? 0 : quiet + STALL_MS / 4;
      if (quiet < STALL_MS) {
        this.#stallWatch = setTimeout(check, STALL_MS / 4);
        return;
      }
      this.#stalled = true;
      congestion.delete(this);
      if (this.#output.bytes > maxQueue) this.#overflowed();
    };
    this.#stallWatch = setTimeout(check, STALL_MS / 4);
    this.#output.below(maxQueue / 2).then(() => this.#caughtUp());
  }

  /** Its output is below half of `maxQueue` again (or it is closing): it holds nobody. */
  #caughtUp(): void {
    clearTimeout(this.#stallWatch);
    this.#stallWatch = undefined;
    this.#stalled = false;
    this.#settings.congestion.delete(this);
  }

  #overflowed(): void {
    this.#output.discard();
    this.#reject("output queue full", `output queue full (max ${this.#settings.maxQueue} bytes)`);
  }

  /**
   * Waits for `until` with both deadlines stopped: while we do not read, the silence is ours. When
   * it waits for its `own` replies for {@linkcode STALL_MS}, the server hears once that it throttles it.
   */
  async #paused(until: Promise<void>, own = false): Promise<void> {
    this.#deadlines.pause(true);
    const onThrottled = own && !this.#throttled ? this.#settings.onThrottled : undefined;
    const timer = onThrottled && setTimeout(() => {
      this.#throttled = true;
      if (this.#closing === null) onThrottled(this);
    }, STALL_MS);
    await until;
    clearTimeout(timer);
    this.#deadlines.pause(false);
  }

  /**
   * A line over the rate (`--rate`) waits `wait` ms for its token: it is held, not dropped, and while
   * it waits nothing more is read, so TCP slows the sender; its clocks stop meanwhile. The client is
   * told once; one over the rate for `rateKickMs` without a break is closed.
   */
  async #overRate(wait: number): Promise<void> {
    const { rate, rateKickMs = 0, onRateLimited } = this.#settings;
    this.#overRateSince ??= performance.now();
    if (!this.#toldToSlowDown) {
      this.#toldToSlowDown = true;
      this.send(`* slow down: ${rate!.perSecond} lines a second at most`);
      onRateLimited?.(this);
    }
    while (wait > 0 && this.#closing === null) {
      if (rateKickMs > 0 && performance.now() + wait - this.#overRateSince >= rateKickMs) {
        return this.#reject(
          "over the rate",
          `over the rate for ${rateKickMs / 1000} s (at most ${rate!.perSecond} lines a second)`,
        );
      }
      // Closing (a kick, a shutdown) ends the wait: the line is then not served.
      this.#closingSignal ??= new AbortController();
      await this.#paused(delay(wait, { signal: this.#closingSignal.signal }));
      wait = this.#bucket!.take(performance.now());
    }
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
    this.#endMessage = message;
    this.close(reason, `ERR ${message}`);
  }

  /** Why the stream ends, as its transport may tell the peer (a WebSocket's close frame). */
  #end(): StreamEnd {
    const reason = this.#closing;
    const message = this.#endMessage;
    if (reason === "internal error") return { reason: "error", message };
    if (reason !== null && isViolation(reason)) return { reason: "violation", message };
    return { reason: reason === "server shutting down" ? "going away" : "done" };
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
    this.#closingSignal?.abort();
    if (this.#stallWatch !== undefined) this.#caughtUp();
    const onClose = this.#settings.onClose;
    if (onClose !== undefined) queueMicrotask(() => onClose(this, reason));
  }

  /**
   * Flushes, then closes gracefully (a lingering close): a socket closed while the client's bytes
   * wait unread in it ends with a reset, and a reset makes the client's kernel throw away what the
   * client has not read yet, the last replies and the `ERR` line that says why among them. So once
   * everything is sent, our side ends with a FIN, and the socket closes when the client has closed
   * its side too, or after {@linkcode LINGER_MS}, while `serve()` reads and drops what still comes
   * (at most {@linkcode LINGER_BYTES}). A transport whose end is both directions (a WebSocket's close
   * frame) lingers in its own way.
   */
  async #finish(): Promise<void> {
    this.#unsent = await this.#output.flush(this.#settings.drainTimeoutMs);
    if (this.#unsent === 0 && this.#stream.halfOpen !== false) {
      try {
        await this.#stream.closeWrite(this.#end());
        const stop = new AbortController();
        await Promise.race([this.#inputDone.promise, delay(LINGER_MS, { signal: stop.signal })]);
        stop.abort();
      } catch {
        // The socket is gone already: nothing to wait for.
      }
    }
    this.#closeSocket();
  }

  /**
   * Reads and drops what the client still sends while closing (see `#finish`); whether its input
   * ended. Stops at {@linkcode LINGER_BYTES}, so that a client still flooding cannot hold the
   * event loop as it closes.
   */
  async #dropInput(buffer: Uint8Array): Promise<boolean> {
    if (this.#stream.halfOpen === false) return true;
    try {
      for (let dropped = 0; dropped <= LINGER_BYTES && !this.#socketClosed;) {
        const n = await this.#stream.read(buffer);
        if (n === null) return true;
        dropped += n;
      }
      return this.#socketClosed;
    } catch {
      // Closed under us, or reset: either way, nothing more to read.
      return true;
    }
  }

  #closeSocket(): void {
    this.#socketClosed = true;
    // #finish and #abort can both get here.
    closeQuietly(this.#stream, this.#end());
  }
}
