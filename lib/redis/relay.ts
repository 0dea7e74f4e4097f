/**
 * The relay between servers that share a chat through Redis (`--redis`): every line this server
 * tells its clients in a room is published on that room's channel, and every line another server
 * publishes on the channel of a room this server has clients in is delivered here (it subscribes
 * to a room's channel when its first client enters the room, and unsubscribes when the last one
 * leaves). Private lines go on the chat's private channel, which every server hears. With
 * `--history N`, it also keeps each room's history as it publishes: a script appends each said line to a capped stream (`XADD MAXLEN ~ N`) and
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
 * With sessions (`--resume-window`), a room's lines go through a script instead that numbers
 * them, keeps them in the room's log (a stream bounded in bytes, which is the history too) and
 * publishes them, while the room keeps a log: while a session may need it (`KEEP_LOG`), or always
 * with `--history`. A room that keeps none costs a plain `PUBLISH` again once the script said so,
 * until the room announces a log on its channel. A line published with an echo id (this server
 * has clients with sessions in the room, who wait for its number) comes back here too, numbered,
 * so that they see this server's lines in the order every server sees, under the same numbers.
 *
 * A message is `node\n` then one record per line, `kind mark line`, joined by `\n`: `kind` is `S`
 * (said) or `N` (a notice), and `mark` is the line's stream id, or `-` (with sessions, `SEQ-0/by/echo`:
 * its number or `-`, the session that said it or `-`, and its echo id or 0); or, on the private channel,
 * `P` (private) or `C` (control), whose `mark` is the recipient's connection id, which only the
 * server that serves it delivers (a control line to 0: every server).
 */

import { Buffer } from "node:buffer";
import { escapeLine } from "../protocol/escape.ts";
import type { Logger } from "../log.ts";
import type { LineKind, LineTag, Relay, RelayHandlers } from "../relay/relay.ts";
import type { RedisLink } from "./link.ts";
import { PUBLISH_AND_KEEP, PUBLISH_AND_LOG } from "./scripts.ts";
import { type RoomKeys, roomKeys } from "./keys.ts";
import { roomKey } from "../protocol/rooms.ts";

const NEWLINE = 0x0a;
const SPACE = 0x20;
const SAID_BYTE = 0x53; // "S"
const PRIVATE_BYTE = 0x50; // "P"
const LOG_ON_BYTE = 0x4c; // "L"
const CONTROL_BYTE = 0x43; // "C"
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
  /**
   * With sessions: room lines are numbered and kept in the room's log (at most `maxBytes` of it, a
   * log idle for `keepMs` going; 0: kept for the history) while a session may need them (a server
   * with one in the room keeps saying so), or `always` (it is the history too).
   */
  log?: { maxBytes: number; keepMs: number; always: boolean };
  logger: Logger;
}

/** A line waiting to be published, and where: a room's name, or a private line's recipient. */
interface Batched {
  line: Uint8Array;
  kind: LineKind;
  to: string | number;
  by?: string;
  echo?: number;
}

/** One server's end of the chat's channels: one per room its clients are in, and the private one. */
export class RedisRelay implements Relay {
  #link: RedisLink;
  #logger: Logger;
  #history: number;
  #log: RedisRelayOptions["log"];
  /**
   * By room (its log's hash): `false` once a script said the room keeps no log now (no session
   * needs one): its lines go out with a plain `PUBLISH` until the room says it keeps one again.
   */
  #logging = new Map<string, boolean>();
  /** How many times a room said it keeps a log again: a late "no log" from before does not count. */
  #logOns = 0;
  #handlers: RelayHandlers | undefined;
  #batch: Batched[] = [];
  #batchBytes = 0;
  /** The rooms listened to, by key: the name the chat gave, and the room's keys. */
  #rooms = new Map<string, { name: string; keys: RoomKeys; listening: Promise<void> }>();
  /** The keys of the rooms published to lately, by the name they were given: folded once. */
  #named = new Map<string, RoomKeys>();
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
    this.#log = options.log;
  }

  get numbering(): boolean {
    return this.#log !== undefined && this.#link.up;
  }

  /** Subscribes to the chat's private channel through `link`; rooms are entered one by one. */
  static async open(link: RedisLink, options: RedisRelayOptions): Promise<RedisRelay> {
    const relay = new RedisRelay(link, options);
    await link.subscribe(link.keys.private, (message) => relay.#receive(message));
    return relay;
  }

  open(handlers: RelayHandlers): void {
    this.#handlers = handlers;
    this.#link.watch((up) => {
      // A link that is down keeps nothing: the talkers no longer wait for it.
      if (!up) this.#setBackedUp(false);
      // A room may have said it keeps a log again while this server could not hear it.
      this.#logging.clear();
      handlers.link?.(up);
    });
  }

  enter(room: string): Promise<void> {
    const key = roomKey(room);
    const entered = this.#rooms.get(key);
    if (entered !== undefined) return entered.listening;
    const keys = roomKeys(key);
    const listen = (message: Buffer) => this.#receive(message, room);
    const listening = this.#link.subscribe(keys.channel, listen, this.#link.sharded).catch((error) => {
      // Down: the link subscribes again when it is back. Up: Redis refused; say so.
      if (this.#link.up) {
        this.#logger.warn("redis_error", `cannot listen to room ${room}: ${error}`, { error: String(error) });
      }
    });
    this.#rooms.set(key, { name: room, keys, listening });
    return listening;
  }

  leave(room: string): void {
    const key = roomKey(room);
    const entered = this.#rooms.get(key);
    if (entered === undefined) return;
    this.#rooms.delete(key);
    this.#logging.delete(entered.keys.meta);
    // Down, it listens to nothing anyway; up, a failure leaves a channel heard and dropped.
    this.#link.unsubscribe(entered.keys.channel, this.#link.sharded).catch(() => {});
  }

  /** Bytes sent and not yet confirmed by Redis. */
  get unconfirmed(): number {
    return this.#unconfirmed;
  }

  pressure(listener: (backedUp: boolean) => void): void {
    this.#pressure = listener;
  }

  publish(line: string | Uint8Array, kind: LineKind, to: string | number, tag?: LineTag): void {
    if (!this.#link.up) return;
    const bytes = typeof line === "string" ? Buffer.from(line) : line;
    if (this.#batch.length === 0) queueMicrotask(() => this.flush());
    this.#batch.push({ line: bytes, kind, to, by: tag?.by, echo: tag?.echo });
    this.#batchBytes += bytes.length + 24;
    if (this.#batchBytes > BATCH_BYTES) this.flush();
  }

  async close(): Promise<void> {
    this.flush();
    await Promise.allSettled(this.#flushing);
  }

  /** Sends the lines batched so far now, rather than at the end of the burst. */
  flush(): void {
    if (this.#batch.length === 0) return;
    // One message per room (and one for the private lines), each in the order said.
    const groups = new Map<string | typeof PRIVATE_GROUP, Batched[]>();
    for (const entry of this.#batch) {
      const group = entry.kind === "private" || entry.kind === "control" ? PRIVATE_GROUP : String(entry.to);
      const lines = groups.get(group);
      if (lines === undefined) groups.set(group, [entry]);
      else lines.push(entry);
    }
    this.#batch = [];
    this.#batchBytes = 0;
    for (const [group, lines] of groups) {
      if (group === PRIVATE_GROUP) this.#send(this.#link.keys.private, undefined, lines);
      else {
        const keys = this.#keysOf(group);
        this.#send(keys.channel, keys, lines);
      }
    }
  }

  /** The keys of `room`, from the rooms entered (or worked out, for one that is not). */
  #keysOf(room: string): RoomKeys {
    let keys = this.#named.get(room);
    if (keys === undefined) {
      const key = roomKey(room);
      keys = this.#rooms.get(key)?.keys ?? roomKeys(key);
      if (this.#named.size >= 4096) this.#named.clear();
      this.#named.set(room, keys);
    }
    return keys;
  }

  /** Publishes `lines` on `channel`, keeping the said ones in `room`'s history if there is one. */
  #send(
    channel: string,
    room: RoomKeys | undefined,
    lines: Batched[],
  ): void {
    const parts: Uint8Array[] = [];
    let log = room === undefined ? undefined : this.#log;
    // A room that keeps no log now needs no script, unless a line of this batch is waited for here.
    if (
      log !== undefined && !log.always && this.#logging.get(room!.meta) === false &&
      lines.every((line) => line.echo === undefined)
    ) log = undefined;
    const keep = this.#history > 0 && room !== undefined && this.#log === undefined;
    let echo = false;
    if (log !== undefined) {
      for (const { line, kind, by, echo: id } of lines) {
        echo ||= id !== undefined;
        parts.push(
          kind === "said" ? SAID : NOTICE,
          Buffer.from(`${by ?? "-"} ${id ?? 0} `),
          line,
          NEWLINE_BYTES,
        );
      }
    } else if (keep) {
      for (const { line, kind } of lines) parts.push(kind === "said" ? SAID : NOTICE, line, NEWLINE_BYTES);
    } else {
      parts.push(Buffer.from(this.#link.node));
      for (const { line, kind, to } of lines) {
        if (kind === "private" || kind === "control") {
          parts.push(kind === "private" ? PRIVATE_UNMARKED : CONTROL_UNMARKED, Buffer.from(`${to} `), line);
        } else {
          parts.push(kind === "said" ? SAID_UNMARKED : NOTICE_UNMARKED, line);
        }
      }
    }
    const payload = Buffer.concat(parts);
    this.#unconfirmed += payload.length;
    if (this.#unconfirmed > MAX_UNCONFIRMED_BYTES) this.#setBackedUp(true);
    const ons = this.#logOns;
    const sent: Promise<unknown> = log !== undefined
      ? this.#link.run<number>(PUBLISH_AND_LOG, [room!.log, room!.meta], [
        // A batch none of whose lines is waited for here comes back only to be dropped at once.
        echo ? `${this.#link.node}${ECHO_MARK}` : this.#link.node,
        channel,
        String(log.maxBytes),
        payload,
        this.#link.sharded ? "SPUBLISH" : "PUBLISH",
        log.always ? "1" : "0",
        String(log.keepMs),
      ]).then((logged) => {
        // Whether the room keeps a log now; a "no" is stale if one said "yes" since.
        if (logged === 1) this.#logging.set(room!.meta, true);
        else if (ons === this.#logOns) this.#logging.set(room!.meta, false);
      })
      : keep
      ? this.#link.run(PUBLISH_AND_KEEP, [room.history], [
        this.#link.node,
        channel,
        String(this.#history),
        payload,
        this.#link.sharded ? "SPUBLISH" : "PUBLISH",
      ])
      : this.#link.send([
        room !== undefined && this.#link.sharded ? "SPUBLISH" : "PUBLISH",
        channel,
        payload,
      ]);
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

  /** A message on a room's channel (`room`) or the private one. */
  #receive(message: Buffer, room?: string): void {
    const handlers = this.#handlers;
    let start = message.indexOf(NEWLINE);
    if (handlers === undefined || start === -1) return;
    // A batch of its own comes back only to be numbered, when its lines are waited for (sessions).
    const node = message.toString("latin1", 0, start);
    const echo = node === `${this.#link.node}${ECHO_MARK}`;
    if (node === this.#link.node || (echo && (this.#log === undefined || room === undefined))) return;
    start++;
    while (start < message.length) {
      let end = message.indexOf(NEWLINE, start);
      if (end === -1) end = message.length;
      if (message[start] === LOG_ON_BYTE && room !== undefined) {
        // The room keeps a log again: its lines go through the script.
        this.#logging.set(roomKeys(roomKey(room)).meta, true);
        this.#logOns++;
        start = end + 1;
        continue;
      }
      const space = message.indexOf(SPACE, start + 2);
      if (message[start + 1] === SPACE && space !== -1 && space < end) {
        const mark = message.toString("latin1", start + 2, space);
        // Servers escape what they publish; whoever else can write to Redis is not trusted.
        const line = escapeLine(message.subarray(space + 1, end), { escaped: true });
        if (message[start] === PRIVATE_BYTE || message[start] === CONTROL_BYTE) {
          if (room === undefined && /^\d{1,16}$/.test(mark)) {
            handlers.deliver({
              line,
              kind: message[start] === PRIVATE_BYTE ? "private" : "control",
              to: Number(mark),
            });
          }
        } else if (room !== undefined) {
          // In a log: `SEQ-0/by/echo` (`-` for SEQ-0 when the room keeps no log now).
          const logged = this.#log === undefined ? undefined : LOG_MARK.exec(mark);
          const echoId = logged ? Number(logged[3]) : 0;
          if (!echo || echoId > 0) {
            handlers.deliver({
              line,
              kind: message[start] === SAID_BYTE ? "said" : "notice",
              room,
              mark: logged
                ? (logged[1] === undefined ? undefined : `${logged[1]}-0`)
                : mark === "-"
                ? undefined
                : mark,
              seq: logged?.[1] === undefined ? undefined : Number(logged[1]),
              by: logged && logged[2] !== "-" ? logged[2] : undefined,
              echoId: echo ? echoId : undefined,
            });
          }
        }
      }
      start = end + 1;
    }
  }
}

/** After the node id, a batch whose lines (some) are waited for back here, numbered. */
const ECHO_MARK = "!";
/** A line's mark in a log: its number (or `-`), the session that said it, and its echo id. */
const LOG_MARK = /^(?:(\d{1,15})-0|-)\/([A-Za-z0-9_-]{1,64})\/(\d{1,15})$/;
const SAID = Buffer.from("S ");
const NOTICE = Buffer.from("N ");
/** The group of a batch's private lines: they go on the chat's private channel. */
const PRIVATE_GROUP = Symbol("private");
const NEWLINE_BYTES = Buffer.from("\n");
/** Without history, the batch goes straight to the receivers: `node`, then `\nS - line` per line. */
const SAID_UNMARKED = Buffer.from("\nS - ");
const NOTICE_UNMARKED = Buffer.from("\nN - ");
/** A private line's record: `\nP to line`, its recipient standing where a mark would. */
const PRIVATE_UNMARKED = Buffer.from("\nP ");
/** A control line's record: `\nC to line`, on the private channel too. */
const CONTROL_UNMARKED = Buffer.from("\nC ");
