/**
 * The user's lines, shared by the successive connections of one client run.
 *
 * A read still pending when a connection ends stays pending for the next one, so no typed line is
 * lost or sent twice across a reconnect. A line with only `.` ends the input; a line of two or more
 * dots is sent with one dot fewer, so `..` is how a lone `.` is said.
 */

/** The user's lines: peek at the next, take it once it is being sent. */
export class LineSource {
  #lines: AsyncIterator<string> | Iterator<string>;
  #pending: Promise<IteratorResult<string>> | undefined;
  #ended = false;

  constructor(lines: AsyncIterable<string> | Iterable<string>) {
    this.#lines = Symbol.asyncIterator in lines ? lines[Symbol.asyncIterator]() : lines[Symbol.iterator]();
  }

  /** Whether the input has ended (EOF or `.`). */
  get ended(): boolean {
    return this.#ended;
  }

  /** The next line, or `undefined` at the end of input; `take()` it once it is being sent. */
  async peek(): Promise<string | undefined> {
    this.#pending ??= Promise.resolve(this.#lines.next());
    const result = await this.#pending;
    if (result.done || result.value === ".") this.#ended = true;
    if (this.#ended) return undefined;
    return /^\.\.+$/.test(result.value) ? result.value.slice(1) : result.value;
  }

  take(): void {
    this.#pending = undefined;
  }
}
