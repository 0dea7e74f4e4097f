/**
 * Writing whole buffers: every writer in Parley goes through one of these two loops, so a partial
 * write is handled in exactly one place for each kind of writer.
 *
 * `writeLine` is synchronous on purpose, for the programs' own stdout and stderr: a log line or a
 * received line is either out before the next event is handled or the process is blocked on a
 * terminal that cannot keep up, which is the back-pressure we want; nothing piles up in memory
 * behind a slow terminal. `writeAll` is the asynchronous loop for sockets.
 */

const encoder = new TextEncoder();

/** Something that takes bytes synchronously and says how many it took, like `Deno.stdout`. */
export interface SyncWriter {
  writeSync(p: Uint8Array): number;
}

/** Something that takes bytes and says how many it took, like `Deno.Conn`. */
export interface Writer {
  write(p: Uint8Array): Promise<number>;
}

/** Writes all of `text` plus a newline to `file`, looping over partial writes. */
export function writeLine(file: SyncWriter, text: string): void {
  const bytes = encoder.encode(text + "\n");
  let written = 0;
  while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
}

/** Hears about each write that took bytes, so that progress can be told from a stall. */
export interface WriteProgress {
  wrote(bytes: number): void;
}

/**
 * Writes all of `data` (text is UTF-8 encoded) to `writer`, looping over partial writes, and tells
 * `progress` about each one.
 */
export async function writeAll(
  writer: Writer,
  data: Uint8Array | string,
  progress?: WriteProgress,
): Promise<void> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  let written = 0;
  while (written < bytes.length) {
    const n = await writer.write(bytes.subarray(written));
    written += n;
    progress?.wrote(n);
  }
}
