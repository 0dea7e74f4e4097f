/**
 * The history seam: the last lines said in a chat room (`--history N`), which a client that joins
 * is sent first. One server keeps them in a ring in memory ({@linkcode MemoryHistory}); servers
 * that share a room through Redis keep them in a Redis stream, so a client sees the same history
 * whichever server it joins.
 *
 * Only lines someone said (`<bob> hi`) are kept, escaped as they were relayed; notices (`* bob
 * joined`) are not.
 */

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
   * Whether a line delivered from elsewhere with `mark` is among the entries already, so that a
   * line is not sent to a newcomer twice, once as history and once live.
   */
  holds(mark: string): boolean;
}

/** Where a room keeps what was said. */
export interface History {
  /** Keeps a line said in the room, here or (delivered by a relay) elsewhere. */
  record(line: Uint8Array, at: number): void;
  /** The last lines, oldest first. */
  recent(): Awaitable<HistorySnapshot>;
}

/** The last `size` lines, in a ring. */
export class MemoryHistory implements History {
  #entries: (HistoryEntry | undefined)[];
  #next = 0;

  constructor(size: number) {
    this.#entries = new Array(size);
  }

  record(line: Uint8Array, at: number): void {
    this.#entries[this.#next] = { at, line };
    this.#next = (this.#next + 1) % this.#entries.length;
  }

  recent(): HistorySnapshot {
    const entries = [...this.#entries.slice(this.#next), ...this.#entries.slice(0, this.#next)]
      .filter((entry) => entry !== undefined);
    return { entries, holds: () => false };
  }
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
