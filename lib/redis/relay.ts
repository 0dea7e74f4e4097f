/**
 * The relay between servers that share a chat room through Redis (`--redis`): every line this
 * server's room tells its clients is published on the room's channel, and every line another
 * server publishes there is delivered here. With `--history N`, it also keeps the room's history
 * as it publishes: a script appends each said line to a capped stream (`XADD MAXLEN ~ N`) and
 * publishes it, marked with its stream id, in one step, so that a newcomer's history
 * (`history.ts`) and the live lines it is sent after it fit together exactly.
 *
 * Lines are batched until the current burst of work is done (one command per batch), and a
 * message starts with the publishing server's node id, so that none comes back to its sender.
 * While the link is down, lines are not sent and not kept: what is said during an outage stays
 * on the server where it was said. What is sent and not yet confirmed is capped
 * ({@linkcode MAX_UNCONFIRMED_BYTES}): a Redis that is slow but alive slows the room's talkers, as
 * a backed-up client does, instead of growing this server's memory.
 *
 * A message is `node\n` then one record per line, `kind mark line`, joined by `\n`: `kind` is `S`
 * (said) or `N` (a notice), and `mark` is the line's stream id, or `-`; or `P` (private), whose
 * `mark` is the recipient's connection id, which only the server that serves it delivers.
 */

import { Buffer } from "node:buffer";
import { escapeLine } from "../protocol/escape.ts";
import type { Logger } from "../log.ts";
import type { LineKind, Relay, RelayHandlers } from "../relay/relay.ts";
import type { RedisLink } from "./link.ts";
import { PUBLISH_AND_KEEP } from "./scripts.ts";

const NEWLINE = 0x0a;
const SPACE = 0x20;
const SAID_BYTE = 0x53; // "S"
const PRIVATE_BYTE = 0x50; // "P"
/** A batch bigger than this is sent at once rather than at the end of the burst. */
const BATCH_BYTES = 1 << 18;
/**
 * The most bytes sent to Redis and not yet confirmed. Past it the room's talkers wait (the room's
 * back-pressure) until half of it is confirmed; while the link is down nothing is sent or kept.
 */
export const MAX_UNCONFIRMED_BYTES = 1 << 20;

/** Options for {@linkcode RedisRelay.open}. */
export interface RedisRelayOptions {
  /** Lines of history to keep; 0 for none. */
  history: number;
  logger: Logger;
}

/** One server's end of the room's channel. */
export class RedisRelay implements Relay {
  #link: RedisLink;
  #logger: Logger;
  #history: number;
  #handlers: RelayHandlers | undefined;
  #batch: { line: Uint8Array; kind: LineKind }[] = [];
  #batchBytes = 0;
  #flushing = new Set<Promise<unknown>>();
  #failed = false;
  /** Bytes sent and not yet confirmed, and whether the talkers are told to wait for them. */
  #unconfirmed = 0;
  #backedUp = false;
  #pressure: ((backedUp: boolean) => void) | undefined;

  private constructor(link: RedisLink, options: RedisRelayOptions) {
    this.#link = link;
    this.#logger = options.logger;
    this.#history = options.history;
  }

  /** Subscribes to the room's channel through `link`. */
  static async open(link: RedisLink, options: RedisRelayOptions): Promise<RedisRelay> {
    const relay = new RedisRelay(link, options);
    await link.subscribe(link.keys.channel, (message) => relay.#receive(message));
    return relay;
  }

  open(handlers: RelayHandlers): void {
    this.#handlers = handlers;
    this.#link.watch((up) => {
      // A link that is down keeps nothing: the talkers no longer wait for it.
      if (!up) this.#setBackedUp(false);
      handlers.link?.(up);
    });
  }

  /** Bytes sent and not yet confirmed by Redis. */
  get unconfirmed(): number {
    return this.#unconfirmed;
  }

  pressure(listener: (backedUp: boolean) => void): void {
    this.#pressure = listener;
  }

  publish(line: string | Uint8Array, kind: LineKind = "notice", to?: number): void {
    if (!this.#link.up) return;
    const text = typeof line === "string" ? Buffer.from(line) : line;
    // A private line carries its recipient where other lines carry their mark.
    const bytes = kind === "private" ? Buffer.concat([Buffer.from(`${to} `), text]) : text;
    if (this.#batch.length === 0) queueMicrotask(() => this.flush());
    this.#batch.push({ line: bytes, kind });
    this.#batchBytes += bytes.length + 3;
    if (this.#batchBytes > BATCH_BYTES) this.flush();
  }

  async close(): Promise<void> {
    this.flush();
    await Promise.allSettled(this.#flushing);
  }

  /** Sends the lines batched so far now, rather than at the end of the burst. */
  flush(): void {
    if (this.#batch.length === 0) return;
    const parts: Uint8Array[] = [];
    if (this.#history > 0) {
      for (const { line, kind } of this.#batch) {
        parts.push(kind === "said" ? SAID : kind === "private" ? PRIVATE : NOTICE, line, NEWLINE_BYTES);
      }
    } else {
      parts.push(Buffer.from(this.#link.node));
      for (const { line, kind } of this.#batch) {
        parts.push(
          kind === "said" ? SAID_UNMARKED : kind === "private" ? PRIVATE_UNMARKED : NOTICE_UNMARKED,
          line,
        );
      }
    }
    this.#batch = [];
    this.#batchBytes = 0;
    const payload = Buffer.concat(parts);
    this.#unconfirmed += payload.length;
    if (this.#unconfirmed > MAX_UNCONFIRMED_BYTES) this.#setBackedUp(true);
    const keys = this.#link.keys;
    const sent = this.#history > 0
      ? this.#link.run(PUBLISH_AND_KEEP, [keys.history], [
        this.#link.node,
        keys.channel,
        String(this.#history),
        payload,
      ])
      : this.#link.send(["PUBLISH", keys.channel, payload]);
    const tracked: Promise<unknown> = sent.then(
      () => this.#failed = false,
      (error) => {
        // Down: the link has said so. Up: Redis refused (out of memory...); say it once.
        if (this.#link.up && !this.#failed) {
          this.#failed = true;
          this.#logger.warn("redis_error", `cannot publish to the room: ${error}`, { error: String(error) });
        }
      },
    ).finally(() => {
      this.#flushing.delete(tracked);
      this.#unconfirmed -= payload.length;
      if (this.#unconfirmed <= MAX_UNCONFIRMED_BYTES / 2) this.#setBackedUp(false);
    });
    this.#flushing.add(tracked);
  }

  #setBackedUp(backedUp: boolean): void {
    if (backedUp === this.#backedUp || (backedUp && !this.#link.up)) return;
    this.#backedUp = backedUp;
    this.#pressure?.(backedUp);
  }

  #receive(message: Buffer): void {
    const handlers = this.#handlers;
    let start = message.indexOf(NEWLINE);
    if (handlers === undefined || start === -1) return;
    if (message.toString("latin1", 0, start) === this.#link.node) return;
    start++;
    while (start < message.length) {
      let end = message.indexOf(NEWLINE, start);
      if (end === -1) end = message.length;
      const space = message.indexOf(SPACE, start + 2);
      if (message[start + 1] === SPACE && space !== -1 && space < end) {
        const mark = message.toString("latin1", start + 2, space);
        // Servers escape what they publish; whoever else can write to Redis is not trusted.
        const line = escapeLine(message.subarray(space + 1, end), { escaped: true });
        if (message[start] === PRIVATE_BYTE) {
          if (/^\d{1,16}$/.test(mark)) handlers.deliver({ line, kind: "private", to: Number(mark) });
        } else {
          handlers.deliver({
            line,
            kind: message[start] === SAID_BYTE ? "said" : "notice",
            mark: mark === "-" ? undefined : mark,
          });
        }
      }
      start = end + 1;
    }
  }
}

const SAID = Buffer.from("S ");
const NOTICE = Buffer.from("N ");
const PRIVATE = Buffer.from("P ");
const NEWLINE_BYTES = Buffer.from("\n");
/** Without history, the batch goes straight to the receivers: `node`, then `\nS - line` per line. */
const SAID_UNMARKED = Buffer.from("\nS - ");
const NOTICE_UNMARKED = Buffer.from("\nN - ");
/** A private line's record: `\nP to line`, its recipient standing where a mark would. */
const PRIVATE_UNMARKED = Buffer.from("\nP ");
