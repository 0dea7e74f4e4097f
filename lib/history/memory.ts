/**
 * The history of one server's rooms (or of each worker's, which hears every line the others say
 * through the relay): the last lines said in each room, in a ring in memory. The rings of the
 * {@linkcode MAX_ROOMS_KEPT} rooms spoken in last are kept.
 */

import { roomKey } from "../protocol/rooms.ts";
import type { RoomLine } from "../relay/relay.ts";
import type { History, HistoryEntry, HistorySnapshot } from "./history.ts";

/** The most rooms whose lines are kept; past it, the room spoken in longest ago is forgotten. */
export const MAX_ROOMS_KEPT = 1024;

/** The last `size` lines said, in a ring. */
class Ring {
  #entries: (HistoryEntry | undefined)[];
  #next = 0;

  constructor(size: number) {
    this.#entries = new Array(size);
  }

  push(entry: HistoryEntry): void {
    this.#entries[this.#next] = entry;
    this.#next = (this.#next + 1) % this.#entries.length;
  }

  entries(): HistoryEntry[] {
    return [...this.#entries.slice(this.#next), ...this.#entries.slice(0, this.#next)]
      .filter((entry) => entry !== undefined);
  }
}

/** The last `size` lines said in each room. */
export class MemoryHistory implements History {
  #size: number;
  /** By room key, the room spoken in last at the end. */
  #rooms = new Map<string, Ring>();
  /** The room spoken in last, and its ring: a busy room's lines skip the lookups. */
  #last: { room: string; ring: Ring } | undefined;

  constructor(size: number) {
    this.#size = size;
  }

  record({ line, kind, room }: RoomLine, at: number): void {
    if (kind !== "said" || room === undefined) return;
    if (this.#last?.room === room) return this.#last.ring.push({ at, line });
    const key = roomKey(room);
    let ring = this.#rooms.get(key);
    if (ring === undefined) {
      ring = new Ring(this.#size);
      if (this.#rooms.size >= MAX_ROOMS_KEPT) this.#rooms.delete(this.#rooms.keys().next().value!);
    } else {
      this.#rooms.delete(key);
    }
    this.#rooms.set(key, ring);
    this.#last = { room, ring };
    ring.push({ at, line });
  }

  recent(room: string): HistorySnapshot {
    return { entries: this.#rooms.get(roomKey(room))?.entries() ?? [], holds: () => false };
  }
}
