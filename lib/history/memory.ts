/**
 * The history of one server's room (or of each worker's, which hears every line the others say
 * through the relay): the last lines said, in a ring in memory.
 */

import type { RoomLine } from "../relay/relay.ts";
import type { History, HistoryEntry, HistorySnapshot } from "./history.ts";

/** The last `size` lines said, in a ring. */
export class MemoryHistory implements History {
  #entries: (HistoryEntry | undefined)[];
  #next = 0;

  constructor(size: number) {
    this.#entries = new Array(size);
  }

  record({ line, kind }: RoomLine, at: number): void {
    if (kind !== "said") return;
    this.#entries[this.#next] = { at, line };
    this.#next = (this.#next + 1) % this.#entries.length;
  }

  recent(): HistorySnapshot {
    const entries = [...this.#entries.slice(this.#next), ...this.#entries.slice(0, this.#next)]
      .filter((entry) => entry !== undefined);
    return { entries, holds: () => false };
  }
}
