/**
 * The history of the rooms shared through Redis (`--history N` with `--redis`): each room's capped
 * stream, which the relay's script appends every said line to as it publishes it (`relay.ts`), so
 * every server's newcomers see the same last lines. Reading it flushes what this server said
 * first, and never waits longer than {@linkcode HISTORY_TIMEOUT_MS}: past it, or while the link is
 * down, a newcomer gets no history rather than a late welcome.
 */

import { Buffer } from "node:buffer";
import type { History, HistoryEntry, HistorySnapshot } from "../history/history.ts";
import { escapeLine } from "../protocol/escape.ts";
import type { RoomLine } from "../relay/relay.ts";
import { roomKey } from "../protocol/rooms.ts";
import { roomKeys } from "./keys.ts";
import type { RedisLink } from "./link.ts";
import type { RedisRelay } from "./relay.ts";

/** A newcomer waits at most this long for the history; past it, it gets none. */
export const HISTORY_TIMEOUT_MS = 500;

/** The last `size` lines said in the room, from its stream in Redis. */
export class RedisHistory implements History {
  #link: RedisLink;
  #relay: RedisRelay;
  #size: number;

  /** Reads the stream that `relay` appends to, through `link`. */
  constructor(link: RedisLink, relay: RedisRelay, size: number) {
    this.#link = link;
    this.#relay = relay;
    this.#size = size;
  }

  /**
   * Nothing to do: the line went into the stream as it was published, in the same script, which
   * is what lets a newcomer's history and its live lines meet without a gap or a repeat.
   */
  record(): void {}

  recent(room: string): Promise<HistorySnapshot> {
    // Lines said here before now go out first, so the stream holds them when it is read.
    this.#relay.flush();
    const none: HistorySnapshot = { entries: [], holds: () => false };
    if (!this.#link.up) return Promise.resolve(none);
    const read = this.#link.send<[string, string[]][]>([
      "XREVRANGE",
      roomKeys(roomKey(room)).history,
      "+",
      "-",
      "COUNT",
      String(this.#size),
    ]).then((reply): HistorySnapshot => {
      const newest = reply[0]?.[0];
      const entries: HistoryEntry[] = reply.reverse().map(([id, fields]) => ({
        at: Number(id.slice(0, id.indexOf("-"))),
        // Servers escape what they publish; whoever else can write to Redis is not trusted.
        line: escapeLine(Buffer.from(fields[fields.indexOf("l") + 1] ?? ""), { escaped: true }),
      }));
      const holds = ({ mark }: RoomLine) =>
        mark !== undefined && newest !== undefined && compareIds(mark, newest) <= 0;
      return { entries, holds };
    }, () => none);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<HistorySnapshot>((resolve) => {
      timer = setTimeout(() => resolve(none), HISTORY_TIMEOUT_MS);
    });
    return Promise.race([read, late]).finally(() => clearTimeout(timer));
  }
}

/** Orders two stream ids, `ms-seq`. */
function compareIds(a: string, b: string): number {
  const [aMs, aSeq] = a.split("-").map(Number);
  const [bMs, bSeq] = b.split("-").map(Number);
  return aMs - bMs || aSeq - bSeq;
}
