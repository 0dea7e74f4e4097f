/**
 * The history seam: the last lines said in each chat room (`--history N`), which a client that
 * joins is sent first. One server keeps them in a ring in memory (`memory.ts`); servers that share a
 * room through Redis keep them in a Redis stream (`redis/history.ts`), so a client sees the same
 * history whichever server it joins.
 *
 * Only lines someone said (`<bob> hi`) are kept, escaped as they were relayed; notices (`* bob
 * joined`) are not. The chat mode records every line said, here or delivered from elsewhere, in
 * one place; the history decides what it keeps.
 */

import type { RoomLine } from "../relay/relay.ts";
import type { Awaitable } from "../util/awaitable.ts";

/** A line said in the room, and when. */
export interface HistoryEntry {
  /** When it was said, in milliseconds since the epoch. */
  at: number;
  line: string | Uint8Array;
}

/** The last lines, at the moment a client joins. */
export interface HistorySnapshot {
  /** Oldest first. */
  entries: HistoryEntry[];
  /**
   * Whether `line`, delivered from elsewhere, is among the entries already, so that a line is not
   * sent to a newcomer twice, once as history and once live.
   */
  holds(line: RoomLine): boolean;
}

/** Where the rooms keep what was said. */
export interface History {
  /** A line said in room `line.room`, here or (delivered by a relay) elsewhere, at `at`. */
  record(line: RoomLine, at: number): void;
  /** The last lines said in `room`, oldest first. */
  recent(room: string): Awaitable<HistorySnapshot>;
}

/** `* history 2026-11-25T19:51:05.123Z <bob> hi`: how a newcomer is sent an entry. */
export function formatHistoryEntry(entry: HistoryEntry): Uint8Array {
  const line = typeof entry.line === "string" ? encoder.encode(entry.line) : entry.line;
  const head = encoder.encode(`* history ${new Date(entry.at).toISOString()} `);
  const out = new Uint8Array(head.length + line.length);
  out.set(head);
  out.set(line, head.length);
  return out;
}

const encoder = new TextEncoder();
