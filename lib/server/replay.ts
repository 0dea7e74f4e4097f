/**
 * What a room said lately, numbered, for clients that come back (`--resume-window`): every line
 * told in the room while someone in it has a session gets the room's next sequence number and is
 * kept until the room has more than `maxBytes` of them (each line counted with {@linkcode OVERHEAD}
 * bytes more, for its place in the index). A client that saw up to number N gets every line after
 * N still kept, and is told how many it lost when the oldest of those are gone already.
 *
 * The lines are copied into one ring of bytes per room (64 KiB at first, doubling up to the bound),
 * and their places kept in plain arrays of numbers: a busy room's kept lines are one buffer, not
 * thousands of small objects for the garbage collector to trace.
 */

/** Bytes counted for each kept line besides its own. */
export const OVERHEAD = 32;
/** The ring a room starts with; it doubles as the room keeps more, up to the bound. */
const FIRST_RING = 64 * 1024;

/** One kept line. */
export interface Replayed {
  seq: number;
  /** The order it was told in across every room of this server, to merge several rooms. */
  order: number;
  /** Who said it (a number the chat gives each client with a session), or 0. */
  author: number;
  /** The line: a view into the ring, good until the next {@linkcode Replay.push}. */
  line: Uint8Array;
}

/** The numbered lines of one room, bounded in bytes. */
export class Replay {
  #maxBytes: number;
  #ring: Uint8Array | undefined;
  /** Where the next line is written in the ring. */
  #write = 0;
  /** Each kept line's number, order, place and length, oldest at `#head`. */
  #seqs: number[] = [];
  #orders: number[] = [];
  #authors: number[] = [];
  #starts: number[] = [];
  #lengths: number[] = [];
  #head = 0;
  /** Bytes counted for the kept lines. */
  #bytes = 0;
  /** The number of the last line told. */
  last = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** How many lines are kept. */
  get #count(): number {
    return this.#seqs.length - this.#head;
  }

  /** Keeps a copy of `line`, said by `author` (0: nobody's), under the next number; returns the number. */
  push(line: Uint8Array, order: number, author = 0): number {
    const seq = ++this.last;
    const length = line.length;
    this.#ring ??= new Uint8Array(Math.min(this.#maxBytes, FIRST_RING));
    if (length + OVERHEAD > this.#maxBytes) {
      // The newest line is always kept, even one bigger than the bound: alone.
      this.#clear();
    } else {
      // Counted, the oldest lines go until this one fits the bound.
      while (this.#bytes + length + OVERHEAD > this.#maxBytes) this.#drop();
    }
    const start = this.#place(length);
    this.#ring.set(line, start);
    this.#write = start + length;
    this.#seqs.push(seq);
    this.#orders.push(order);
    this.#authors.push(author);
    this.#starts.push(start);
    this.#lengths.push(length);
    this.#bytes += length + OVERHEAD;
    return seq;
  }

  /** Takes the next number without keeping the line (nobody would come back for it); returns it. */
  skip(): number {
    return ++this.last;
  }

  /** The lines after `seen` still kept, and how many after it are not kept any more. */
  after(seen: number): { lines: Replayed[]; lost: number } {
    const first = this.#count > 0 ? this.#seqs[this.#head] : this.last + 1;
    const lost = Math.max(0, Math.min(first, this.last + 1) - seen - 1);
    const lines: Replayed[] = [];
    for (let i = this.#head; i < this.#seqs.length; i++) {
      if (this.#seqs[i] <= seen) continue;
      const start = this.#starts[i];
      lines.push({
        seq: this.#seqs[i],
        order: this.#orders[i],
        author: this.#authors[i],
        line: this.#ring!.subarray(start, start + this.#lengths[i]),
      });
    }
    return { lines, lost };
  }

  /**
   * Where `length` bytes go in the ring. The lines kept fit the bound with this one (the caller
   * dropped what did not), so when the free space is split around the wrap, the kept lines are
   * packed at the start of a ring (bigger, while the bound allows), never dropped for it.
   */
  #place(length: number): number {
    if (this.#count === 0) return this.#ring!.length >= length ? 0 : this.#pack(length);
    const oldest = this.#starts[this.#head];
    if (this.#write > oldest) {
      // Free: from the last line to the end, and from the start to the oldest line.
      if (this.#ring!.length - this.#write >= length) return this.#write;
      if (oldest >= length) return 0;
    } else if (oldest - this.#write >= length) {
      return this.#write;
    }
    return this.#pack(length);
  }

  /**
   * Moves the kept lines, oldest first, to the start of a new ring twice as big (at most the bound,
   * at least enough for them and `length` more); returns where `length` bytes go now.
   */
  #pack(length: number): number {
    const old = this.#ring!;
    let kept = 0;
    for (let i = this.#head; i < this.#lengths.length; i++) kept += this.#lengths[i];
    const size = Math.max(Math.min(this.#maxBytes, old.length * 2), kept + length);
    const ring = new Uint8Array(size);
    let offset = 0;
    for (let i = this.#head; i < this.#starts.length; i++) {
      ring.set(old.subarray(this.#starts[i], this.#starts[i] + this.#lengths[i]), offset);
      this.#starts[i] = offset;
      offset += this.#lengths[i];
    }
    this.#ring = ring;
    this.#write = offset;
    return offset;
  }

  /** Forgets the oldest kept line. */
  #drop(): void {
    this.#bytes -= this.#lengths[this.#head] + OVERHEAD;
    this.#head++;
    if (this.#count === 0) {
      this.#clear();
    } else if (this.#head > 1024 && this.#head * 2 > this.#seqs.length) {
      // Now and then, the places of lines dropped for good go too.
      this.#seqs = this.#seqs.slice(this.#head);
      this.#orders = this.#orders.slice(this.#head);
      this.#authors = this.#authors.slice(this.#head);
      this.#starts = this.#starts.slice(this.#head);
      this.#lengths = this.#lengths.slice(this.#head);
      this.#head = 0;
    }
  }

  #clear(): void {
    this.#seqs = [];
    this.#orders = [];
    this.#authors = [];
    this.#starts = [];
    this.#lengths = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#write = 0;
  }
}
