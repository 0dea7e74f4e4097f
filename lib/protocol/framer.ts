/**
 * Line framing: turns a stream of byte chunks into lines.
 *
 * The wire protocol is UTF-8 text lines ending in `\n`; a `\r` just before the `\n` is dropped so
 * `nc -C` and telnet work. Framing happens on bytes, before any decoding, so a multi-byte character
 * split across two reads is never damaged, and the bytes held for an unfinished line are capped: a
 * client can make the server remember at most `maxLine + 1` bytes, whatever it sends.
 *
 * Pull, not push: {@linkcode LineFramer.feed} hands over a chunk and {@linkcode LineFramer.next}
 * takes its lines one at a time, so a reader may stop between two lines of one chunk (to wait for a
 * command to finish) and carry on later. A line is a view into the chunk or into the framer's own
 * buffer, valid until the next call; a caller that keeps one must copy it.
 *
 * Pure: no I/O.
 */

const LF = 0x0a;
const CR = 0x0d;
/** Shared by every framer with nothing buffered: idle connections should cost nothing here. */
const EMPTY = new Uint8Array(0);
/** An unfinished line's buffer larger than this is let go once the line is done. */
const KEEP_LIMIT = 1024;

/** Thrown by {@linkcode LineFramer.next} when a line is longer than the limit. */
export class LineTooLongError extends Error {
  constructor(readonly maxLine: number) {
    super(`line too long (max ${maxLine} bytes)`);
    this.name = "LineTooLongError";
  }
}

/** Splits byte chunks into lines of at most `maxLine` bytes (not counting `\r\n` or `\n`). */
export class LineFramer {
  readonly maxLine: number;
  #partial: Uint8Array = EMPTY;
  #partialLength = 0;
  #chunk: Uint8Array = EMPTY;
  #offset = 0;
  /** After an overlong line was reported before its end: drop bytes up to the next `\n`. */
  #skipping = false;

  constructor(maxLine: number) {
    if (!Number.isSafeInteger(maxLine) || maxLine < 1) {
      throw new RangeError(`maxLine must be a positive integer, got ${maxLine}`);
    }
    this.maxLine = maxLine;
  }

  /** Bytes of an unfinished line held since the last `\n`. */
  get buffered(): number {
    return this.#partialLength;
  }

  /** Hands over the next chunk; take its lines with {@linkcode next} before feeding another. */
  feed(chunk: Uint8Array): void {
    if (this.#offset < this.#chunk.length) throw new Error("feed() before the last chunk was used up");
    this.#chunk = chunk;
    this.#offset = 0;
  }

  /**
   * The next complete line of the chunk, or `null` once the chunk is used up (its unfinished tail
   * is then kept for the next chunk). Throws {@linkcode LineTooLongError} on reaching an overlong
   * line; the lines before it have been returned by then, and a caller that carries on gets the
   * lines after it (the rest of the overlong line is dropped).
   */
  next(): Uint8Array | null {
    const chunk = this.#chunk;
    let start = this.#offset;
    let end = start < chunk.length ? chunk.indexOf(LF, start) : -1;
    if (this.#skipping && end !== -1) {
      // The rest of a line already reported as too long: it is not a line of its own.
      this.#skipping = false;
      start = end + 1;
      end = chunk.indexOf(LF, start);
    }
    if (end === -1) {
      this.#chunk = EMPTY;
      this.#offset = 0;
      if (!this.#skipping) this.#keep(chunk.subarray(start), false);
      return null;
    }
    this.#offset = end + 1;
    if (this.#partialLength === 0) return this.#line(chunk, start, end);
    this.#keep(chunk.subarray(start, end), true);
    const partial = this.#partial;
    const length = this.#partialLength;
    this.#partialLength = 0;
    // An idle connection should not keep a long line's buffer alive; the view we return does.
    if (partial.length > KEEP_LIMIT) this.#partial = EMPTY;
    return this.#line(partial, 0, length);
  }

  /** Feeds `chunk` and calls `onLine` with each of its lines, in order. */
  push(chunk: Uint8Array, onLine: (line: Uint8Array) => void): void {
    this.feed(chunk);
    for (let line = this.next(); line !== null; line = this.next()) onLine(line);
  }

  /** The line in `bytes[start, end)`, without its `\r` terminator, within the limit: one view. */
  #line(bytes: Uint8Array, start: number, end: number): Uint8Array {
    if (end > start && bytes[end - 1] === CR) end--;
    if (end - start > this.maxLine) throw new LineTooLongError(this.maxLine);
    return bytes.subarray(start, end);
  }

  /**
   * Appends to the unfinished line, failing as soon as it can no longer fit the limit; `ends` says
   * whether the line's `\n` has been seen (else the rest of the line is skipped after a failure).
   */
  #keep(bytes: Uint8Array, ends: boolean): void {
    if (bytes.length === 0) return;
    const length = this.#partialLength + bytes.length;
    // One byte of slack: the line may still end in "\r\n", whose "\r" does not count.
    const doomed = length > this.maxLine + 1 ||
      (length === this.maxLine + 1 && bytes[bytes.length - 1] !== CR);
    if (doomed) {
      this.#partialLength = 0;
      this.#partial = EMPTY;
      this.#skipping = !ends;
      throw new LineTooLongError(this.maxLine);
    }
    if (length > this.#partial.length) {
      const grown = new Uint8Array(
        Math.min(Math.max(length, this.#partial.length * 2, 64), this.maxLine + 1),
      );
      grown.set(this.#partial.subarray(0, this.#partialLength));
      this.#partial = grown;
    }
    this.#partial.set(bytes, this.#partialLength);
    this.#partialLength = length;
  }
}
