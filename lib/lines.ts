/**
 * Line framing: turns a stream of byte chunks into lines.
 *
 * The wire protocol is UTF-8 text lines ending in `\n`; a `\r` just before the `\n` is dropped so
 * `nc -C` and telnet work. Framing happens on bytes, before any decoding, so a multi-byte character
 * split across two reads is never damaged, and the bytes held for an unfinished line are capped: a
 * client can make the server remember at most `maxLine + 1` bytes, whatever it sends.
 *
 * Pure: no I/O. Lines are handed to a callback as views into the chunk (or into the framer's own
 * buffer) that are valid only during the call; a caller that keeps one must copy it.
 */

const LF = 0x0a;
const CR = 0x0d;
/** Shared by every framer with nothing buffered: idle connections should cost nothing here. */
const EMPTY = new Uint8Array(0);

/** Thrown by {@linkcode LineFramer.push} when a line is longer than the limit. */
export class LineTooLongError extends Error {
  constructor(readonly maxLine: number) {
    super(`line too long (max ${maxLine} bytes)`);
    this.name = "LineTooLongError";
  }
}

/** Splits byte chunks into lines of at most `maxLine` bytes (not counting `\r\n` or `\n`). */
export class LineFramer {
  readonly maxLine: number;
  #partial = EMPTY;
  #partialLength = 0;

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

  /**
   * Feeds one chunk: calls `onLine` for every line it completes, in order, then keeps the
   * unfinished tail. Throws {@linkcode LineTooLongError} on reaching an overlong line; the lines
   * before it have been delivered by then.
   */
  push(chunk: Uint8Array, onLine: (line: Uint8Array) => void): void {
    let start = 0;
    if (this.#partialLength > 0) {
      const end = chunk.indexOf(LF);
      if (end === -1) {
        this.#keep(chunk);
        return;
      }
      this.#keep(chunk.subarray(0, end));
      const line = this.#partial.subarray(0, this.#partialLength);
      this.#partialLength = 0;
      onLine(this.#checked(line));
      this.#releaseLargeBuffer();
      start = end + 1;
    }
    let end: number;
    while ((end = chunk.indexOf(LF, start)) !== -1) {
      onLine(this.#checked(chunk.subarray(start, end)));
      start = end + 1;
    }
    if (start < chunk.length) this.#keep(chunk.subarray(start));
  }

  /** Drops the line's `\r` terminator and enforces the limit. */
  #checked(line: Uint8Array): Uint8Array {
    const length = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
    if (length > this.maxLine) throw new LineTooLongError(this.maxLine);
    return line.subarray(0, length);
  }

  /** Appends to the unfinished line, failing as soon as it can no longer fit the limit. */
  #keep(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const length = this.#partialLength + bytes.length;
    // One byte of slack: the line may still end in "\r\n", whose "\r" does not count.
    const doomed = length > this.maxLine + 1 ||
      (length === this.maxLine + 1 && bytes[bytes.length - 1] !== CR);
    if (doomed) {
      this.#partialLength = 0;
      this.#partial = EMPTY;
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

  /** An idle connection should not keep a long line's buffer alive. */
  #releaseLargeBuffer(): void {
    if (this.#partial.length > 1024) this.#partial = EMPTY;
  }
}
