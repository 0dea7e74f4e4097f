/**
 * One connection of the client, from connected to closed: the user's lines go out while the
 * server's lines are printed, concurrently.
 *
 * Reading the socket never waits for the user: received lines are printed the moment they arrive,
 * so chat messages appear while the user is typing. The end of input half-closes the connection so
 * the server sees the end of the conversation; the session keeps printing until the server closes,
 * for at most `wait` seconds.
 */

import { escapeControl } from "../protocol/escape.ts";
import { LineFramer } from "../protocol/framer.ts";
import { isGoodbye, looksLikeTls } from "../protocol/goodbye.ts";
import { formatLastSeen, parseSequenceMark } from "../protocol/session.ts";
import type { Terminal } from "../terminal.ts";
import type { Stream } from "../transport/transport.ts";
import { delay } from "../util/delay.ts";
import { clockTime, isoTime } from "../util/time.ts";
import { writeAll } from "../util/write.ts";
import type { LineSource } from "./line_source.ts";

/** The longest line the client accepts from a server. */
const MAX_RECEIVED_LINE = 16 * 1024 * 1024;

/**
 * How one session ended. `connection lost` covers a server that closed without its goodbye (see
 * `protocol/goodbye.ts`) or without a word; `wrong protocol`, one that answered in TLS.
 */
export type SessionEnd =
  | "interrupted"
  | "server closed"
  | "wait expired"
  | "connection lost"
  | "wrong protocol";

/** Options for {@linkcode session}. */
export interface SessionOptions {
  lines: LineSource;
  terminal: Terminal;
  /** Resolves when the user presses Ctrl+C. */
  interrupted: Promise<"interrupted">;
  /** Seconds to wait for the server to close after input has ended. */
  wait: number;
  /** Print received lines as JSON objects. */
  json: boolean;
  /**
   * A chat session kept across connections (`--reconnect`): asked for at the first welcome,
   * resumed at the next, each line's number noted and not shown.
   */
  resume?: ResumeState;
}

/** What the client keeps of its chat session between connections. */
export interface ResumeState {
  /** The token that resumes it; never printed. */
  token?: string;
  /** The last number seen in each room. */
  seen: Map<string, number>;
}

/** How a session ended, and whether the server's last line was an `ERR`. */
export interface SessionOutcome {
  end: SessionEnd;
  lastLineWasError: boolean;
}

/** Runs one connection until it ends; closes it. */
export async function session(conn: Stream, options: SessionOptions): Promise<SessionOutcome> {
  const { terminal, interrupted, resume } = options;
  let lastLine = "";
  // One writer: the user's lines and the session's commands never interleave.
  let writing: Promise<unknown> = Promise.resolve();
  const write = (text: string) => writing = writing.catch(() => {}).then(() => writeAll(conn, text));
  let welcomed = false;
  const printLine = (received: string) => {
    let line = received;
    if (resume !== undefined) {
      const marked = parseSequenceMark(line);
      if (marked !== undefined) {
        resume.seen.set(marked.room, marked.seq);
        line = marked.rest;
      } else if (line.startsWith("* session ")) {
        // The token is the client's to keep, not to show.
        resume.token = line.slice("* session ".length);
        return;
      } else if (!welcomed && line.startsWith("* welcome, ")) {
        welcomed = true;
        const ask = resume.token === undefined
          ? "/session"
          : `/resume ${resume.token} ${formatLastSeen(resume.seen) || "-"}`;
        write(ask + "\n").catch(() => {/* the connection says how it ended */});
        // Resumed, the welcome is not news: the resumed line says who this is.
        if (resume.token !== undefined) return;
      }
    }
    lastLine = line;
    terminal.print(
      options.json
        ? JSON.stringify({ time: isoTime(), text: line })
        : `[${clockTime()}] ${escapeControl(line)}`,
    );
  };
  const over = new AbortController();
  // Neither promise rejects: every way a direction can end is a value.
  const heard = { any: false };
  const received = receive(conn, printLine, heard);
  const lines = { sent: 0 };
  const sent = send(write, options.lines, over.signal, terminal, lines);
  const first = await Promise.race([received, sent, interrupted]);
  let end: SessionEnd;
  if (first !== "input ended") {
    end = first;
  } else {
    try {
      // Leaving on purpose: a session is ended, not kept for a return.
      if (resume?.token !== undefined) await write("/quit\n");
      await conn.closeWrite();
    } catch {
      // The server already went away; `received` says how.
    }
    const waited = delay(options.wait * 1000, { signal: over.signal, unref: true }).then(() =>
      "wait expired" as const
    );
    end = await Promise.race([received, interrupted, waited]);
  }
  over.abort();
  if (end === "server closed" && !heard.any && (first !== "input ended" || lines.sent > 0)) {
    // Refused at the door, or a server that crashed before a word: it closed first, or it left lines
    // unanswered (every mode answers a line, or welcomes). Nothing was meant by it.
    end = "connection lost";
    terminal.status("the server closed the connection without a word");
  } else if (
    end === "server closed" && first !== "input ended" && !lastLine.startsWith("ERR") && !isGoodbye(lastLine)
  ) {
    // It closed while we still had things to say, and did not say goodbye: a crash, not an end.
    end = "connection lost";
    terminal.status("connection closed by server without a goodbye");
  } else if (end === "server closed") {
    // After the user's own end of input the server's close is the expected reply, not news.
    terminal.status(first === "input ended" ? "conversation ended" : "connection closed by server");
  } else if (end === "wrong protocol") {
    terminal.status("the server speaks TLS; use --tls (and --fingerprint)");
  } else if (end === "connection lost") terminal.status("connection lost: the server reset it");
  try {
    conn.close();
  } catch {
    // The server closed it first.
  }
  return { end, lastLineWasError: lastLine.startsWith("ERR") };
}

/** Prints lines from the server until it closes; resolves with how it ended. */
async function receive(
  conn: Stream,
  onLine: (line: string) => void,
  heard: { any: boolean },
): Promise<"server closed" | "connection lost" | "wrong protocol"> {
  const decoder = new TextDecoder();
  const framer = new LineFramer(MAX_RECEIVED_LINE);
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) return "server closed";
      if (!heard.any && looksLikeTls(buffer.subarray(0, n))) return "wrong protocol";
      heard.any = true;
      framer.push(buffer.subarray(0, n), (line) => onLine(decoder.decode(line)));
    }
  } catch {
    // Reset by the server, or closed by us after the session ended (then nobody is listening).
    return "connection lost";
  }
}

/** Sends lines until the end of input, or until the session is `over`. */
async function send(
  write: (text: string) => Promise<unknown>,
  lines: LineSource,
  over: AbortSignal,
  terminal: Terminal,
  count: { sent: number },
): Promise<"input ended" | "connection lost"> {
  while (true) {
    const line = await lines.peek();
    // The session ended while we waited for the user: the line belongs to the next connection.
    if (over.aborted) return "connection lost";
    if (line === undefined) return "input ended";
    lines.take();
    try {
      await write(line + "\n");
      count.sent++;
    } catch {
      terminal.status(
        `connection lost while sending; this line may not have arrived: ${escapeControl(line)}`,
      );
      return "connection lost";
    }
  }
}
