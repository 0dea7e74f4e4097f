/**
 * The buffer a connection reads into, sized to the traffic. A pending read pins its buffer, and
 * thousands of idle clients each have one, so an idle client's buffer stays small: it grows four
 * times only after two reads in a row have filled it (more is plainly waiting; one full read is
 * often just one line), and shrinks again when reads come back mostly empty.
 */

/** The buffer a connection starts with: one short line. */
export const MIN_READ = 64;
const MAX_READ = 64 * 1024;

/** Where a connection's reads go. */
export class ReadBuffer {
  bytes: Uint8Array = new Uint8Array(MIN_READ);
  #lastFull = false;

  /** Sizes the next read from one that returned `n` bytes into {@linkcode bytes}. */
  fit(n: number): void {
    const size = this.bytes.length;
    const full = n === size;
    if (full && this.#lastFull && size < MAX_READ) this.bytes = new Uint8Array(size * 4);
    else if (n < size / 8 && size > MIN_READ) this.bytes = new Uint8Array(size / 4);
    this.#lastFull = full;
  }
}
