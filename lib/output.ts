/**
 * Writing text to stdout and stderr from the programs: whole lines, in order, synchronously.
 *
 * Synchronous on purpose: a log line or a received line is either out before the next event is
 * handled or the process is blocked on a terminal that cannot keep up, which is the back-pressure
 * we want; nothing piles up in memory behind a slow terminal.
 */

const encoder = new TextEncoder();

/** Writes all of `text` plus a newline to `file`, looping over partial writes. */
export function writeLine(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text + "\n");
  let written = 0;
  while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
}
