/**
 * The chat's transcript (`--transcript FILE`): every line said on this server, as JSON lines
 * (`{"time":…,"room":…,"name":…,"kind":"said","text":…}`) appended to a file. Writes are queued and
 * made by one loop, so a slow disk never holds a client; a write that fails is logged once and the
 * server goes on (the lines said meanwhile are not kept), and the next write that works says so.
 * `reopen()` (on SIGHUP) closes the file and opens the path again, as logrotate expects after it
 * moved the file away; nothing queued is lost across it.
 *
 * Each server, and each worker of one, appends what its own clients said: with several workers
 * the file is the whole conversation, each line written once (appends do not interleave within a
 * line); with several servers through Redis, each server's file holds its clients' part.
 */

import type { Logger } from "../log.ts";

/** One line of the transcript, before it gets its time. */
export interface TranscriptEntry {
  /** The room it was said in; none for a private message. */
  room?: string;
  /** Who said it. */
  name: string;
  /**
   * `said`: a line; `action`: `/me`; `topic`: `/topic`; `private`: `/msg`; `moderation`: the
   * operator's `/kick`, `/mute`, `/ban`...
   */
  kind: "said" | "action" | "topic" | "private" | "moderation";
  /** A private message's recipient, as the sender named it. */
  to?: string;
  /** What was said, as the client sent it (JSON escapes what must be). */
  text: string;
}

/** Where the chat mode writes what is said. */
export interface Transcript {
  write(entry: TranscriptEntry): void;
}

/** Options for {@linkcode FileTranscript.open}. */
export interface FileTranscriptOptions {
  /** Whether private messages are kept too (`--transcript-private`). @default {true} */
  private?: boolean;
  logger: Logger;
}

const encoder = new TextEncoder();

/** A transcript appended to a file, one JSON object a line. */
export class FileTranscript implements Transcript {
  readonly path: string;
  #logger: Logger;
  #file: Deno.FsFile;
  /** Lines to write, and reopenings, in order. */
  #queue: (Uint8Array | (() => Promise<void>))[] = [];
  #writing: Promise<void> | undefined;
  #failing = false;
  #private: boolean;

  private constructor(path: string, file: Deno.FsFile, options: FileTranscriptOptions) {
    this.path = path;
    this.#file = file;
    this.#private = options.private ?? true;
    this.#logger = options.logger;
  }

  /** Opens `path` to append to, creating it; rejects as `Deno.open` does. */
  static async open(path: string, options: FileTranscriptOptions): Promise<FileTranscript> {
    return new FileTranscript(path, await openAppend(path), options);
  }

  write(entry: TranscriptEntry): void {
    if (entry.kind === "private" && !this.#private) return;
    const line = JSON.stringify({ time: new Date().toISOString(), ...entry });
    this.#queue.push(encoder.encode(line + "\n"));
    this.#writing ??= this.#drain();
  }

  /**
   * Closes the file and opens its path again (after logrotate moved it away): the lines queued
   * before go to the old file, those after to the new one. Rejects, keeping the old file, when the
   * path cannot be opened.
   */
  reopen(): Promise<void> {
    const done = Promise.withResolvers<void>();
    this.#queue.push(async () => {
      try {
        const file = await openAppend(this.path);
        this.#file.close();
        this.#file = file;
        done.resolve();
      } catch (error) {
        done.reject(error);
      }
    });
    this.#writing ??= this.#drain();
    return done.promise;
  }

  /** Writes what is queued, then closes the file. */
  async close(): Promise<void> {
    await this.#writing;
    this.#file.close();
  }

  /** The one writer: lines in order, each run of them in one write, and the reopenings between. */
  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const next = this.#queue[0];
      if (typeof next === "function") {
        this.#queue.shift();
        await next();
        continue;
      }
      let end = 0;
      while (end < this.#queue.length && typeof this.#queue[end] !== "function") end++;
      const batch = this.#queue.splice(0, end) as Uint8Array[];
      await this.#writeBatch(batch);
    }
    this.#writing = undefined;
  }

  async #writeBatch(batch: Uint8Array[]): Promise<void> {
    const bytes = new Uint8Array(batch.reduce((sum, line) => sum + line.length, 0));
    let offset = 0;
    for (const line of batch) {
      bytes.set(line, offset);
      offset += line.length;
    }
    try {
      for (let written = 0; written < bytes.length;) {
        written += await this.#file.write(bytes.subarray(written));
      }
      if (this.#failing) {
        this.#failing = false;
        this.#logger.info("transcript", `writing the transcript ${this.path} again`, { path: this.path });
      }
    } catch (error) {
      if (this.#failing) return;
      this.#failing = true;
      const reason = error instanceof Error ? error.message : String(error);
      this.#logger.warn(
        "transcript_error",
        `cannot write the transcript ${this.path}: ${reason}; going on without it (said once)`,
        { path: this.path, error: reason },
      );
    }
  }
}

function openAppend(path: string): Promise<Deno.FsFile> {
  return Deno.open(path, { write: true, create: true, append: true });
}
