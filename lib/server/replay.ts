/**
 * What a room said lately, numbered, for clients that come back (`--resume-window`): every line
 * told in the room, said or a notice, gets the room's next sequence number and is kept until the
 * room has more than `maxBytes` of them. A client that saw up to number N gets every line after
 * N still kept, and is told how many it lost when the oldest of those are gone already.
 */

/** One kept line. */
export interface Replayed {
  seq: number;
  /** The order it was told in across every room of this server, to merge several rooms. */
  order: number;
  line: Uint8Array;
}

/** The numbered lines of one room, bounded in bytes. */
export class Replay {
  #maxBytes: number;
  #entries: Replayed[] = [];
  #head = 0;
  #bytes = 0;
  /** The number of the last line told. */
  last = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Keeps `line` under the next number; returns the number. */
  push(line: Uint8Array, order: number): number {
    const seq = ++this.last;
    this.#entries.push({ seq, order, line });
    this.#bytes += line.length + 32;
    while (this.#bytes > this.#maxBytes && this.#head < this.#entries.length - 1) {
      this.#bytes -= this.#entries[this.#head].line.length + 32;
      this.#head++;
    }
    // Now and then, drop what was dropped for good.
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    return seq;
  }

  /** Takes the next number without keeping the line (nobody would come back for it); returns it. */
  skip(): number {
    return ++this.last;
  }

  /** The lines after `seen` still kept, and how many after it are not kept any more. */
  after(seen: number): { lines: Replayed[]; lost: number } {
    const first = this.#entries[this.#head]?.seq ?? this.last + 1;
    const lost = Math.max(0, Math.min(first, this.last + 1) - seen - 1);
    const lines: Replayed[] = [];
    for (let i = this.#head; i < this.#entries.length; i++) {
      if (this.#entries[i].seq > seen) lines.push(this.#entries[i]);
    }
    return { lines, lost };
  }
}
