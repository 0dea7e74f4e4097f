/**
 * The buffer a connection reads into, sized to the traffic: small while the client is idle (a
 * pending read pins its buffer, and thousands of idle clients each have one), four times larger
 * after each read that fills it, and smaller again when reads come back mostly empty.
 */

const MIN_READ = 64;
const MAX_READ = 64 * 1024;

/** A read buffer that follows the size of the reads. */
export class ReadBuffer {
  /** Where the next read goes. */
  bytes: Uint8Array = new Uint8Array(MIN_READ);

  /** Sizes the next read from one that returned `n` bytes into {@linkcode bytes}. */
  fit(n: number): void {
    const size = this.bytes.length;
    if (n === size && size < MAX_READ) this.bytes = new Uint8Array(size * 4);
    else if (n < size / 8 && size > MIN_READ) this.bytes = new Uint8Array(size / 4);
  }
}
