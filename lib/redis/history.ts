/**
 * The history of the rooms shared through Redis (`--history N` with `--redis`): each room's capped
 * stream, which the relay's script appends every said line to as it publishes it (`relay.ts`), so
 * every server's newcomers see the same last lines. Reading it flushes what this server said
 * first, and never waits longer than {@linkcode HISTORY_TIMEOUT_MS}: past it, or while the link is
 * down, a newcomer gets no history rather than a late welcome.
 *
 * With sessions, the room's log (every line told, numbered, bounded in bytes by `--resume-buffer`)
 * is the history too: its last `size` said lines, read from the newest back, a page at a time.
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
/** Entries of a room's log read at a time, looking for its last said lines. */
const LOG_PAGE = 256;

/** The last `size` lines said in the room, from its stream in Redis. */
export class RedisHistory implements History {
  #link: RedisLink;
  #relay: RedisRelay;
  #size: number;
  #log: boolean;

  /** Reads the stream that `relay` appends to (the log, if `log`), through `link`. */
  constructor(link: RedisLink, relay: RedisRelay, size: number, log = false) {
    this.#link = link;
    this.#relay = relay;
    this.#size = size;
    this.#log = log;
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
    const key = roomKeys(roomKey(room));
    const read = (this.#log ? this.#readLog(key.log) : this.#link.send<Entry[]>([
      "XREVRANGE",
      key.history,
      "+",
      "-",
      "COUNT",
      String(this.#size),
    ]).then((said) => ({ said, newest: said[0]?.[0] }))).then(({ said, newest }): HistorySnapshot => {
      const entries: HistoryEntry[] = said.reverse().map(([id, fields]) => ({
        at: this.#log ? Number(fields[fields.indexOf("t") + 1]) : Number(id.slice(0, id.indexOf("-"))),
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

  /** The last said lines of the log `key`, newest first, and the id of its newest entry of all. */
  async #readLog(key: string): Promise<{ said: Entry[]; newest?: string }> {
    const said: Entry[] = [];
    let newest: string | undefined;
    let before = "+";
    while (said.length < this.#size) {
      const page = await this.#link.send<Entry[]>(["XREVRANGE", key, before, "-", "COUNT", String(LOG_PAGE)]);
      newest ??= page[0]?.[0];
      for (const entry of page) {
        if (said.length < this.#size && entry[1][entry[1].indexOf("k") + 1] === "S") said.push(entry);
      }
      if (page.length < LOG_PAGE) break;
      before = `(${page.at(-1)![0]}`;
    }
    return { said, newest };
  }
}

/** A stream entry as Redis gives it: its id, and its fields and values. */
type Entry = [string, string[]];

/** Orders two stream ids, `ms-seq`. */
function compareIds(a: string, b: string): number {
  const [aMs, aSeq] = a.split("-").map(Number);
  const [bMs, bSeq] = b.split("-").map(Number);
  return aMs - bMs || aSeq - bSeq;
}
