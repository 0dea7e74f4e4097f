/**
 * The client session: connect, then send the user's lines and print the server's, concurrently.
 *
 * Reading the socket never waits for the user: received lines are printed the moment they arrive,
 * so chat messages appear while the user is typing. `.` alone ends the session. When input ends
 * (EOF, or after the `--message` lines) the client half-closes the connection, so the server sees
 * the end of the conversation, and keeps printing until the server closes, for at most `wait`.
 */

import { escapeControl } from "./escape.ts";
import { LineFramer } from "./lines.ts";
import { describeNetError, formatAddress } from "./net.ts";
import type { Terminal } from "./terminal.ts";
import { clockTime, isoTime } from "./time.ts";

/** The longest line the client accepts from a server. */
const MAX_RECEIVED_LINE = 16 * 1024 * 1024;

const encoder = new TextEncoder();

/** A connection could not be made; the message is one sentence for the user. */
export class ConnectError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectError";
  }
}

/** Options for {@linkcode runClient}. */
export interface ClientOptions {
  host: string;
  port: number;
  /** Seconds to wait for the connection. */
  connectTimeout: number;
  /** Seconds to wait for the server to close after input has ended. */
  wait: number;
  /** Print received lines as JSON objects. */
  json: boolean;
  /** Lines to send; when given, the terminal's input is not read. */
  messages: string[];
  terminal: Terminal;
}

/** How a session ended. */
export interface ClientOutcome {
  /**
   * `server closed`: the server closed the connection; `wait expired`: input ended (EOF, `.` or
   * the last `--message`) and the server stayed open for `wait`; `interrupted`: Ctrl+C at the
   * prompt; `connection lost`: the connection broke.
   */
  end: "interrupted" | "server closed" | "wait expired" | "connection lost";
  /** Whether the last line received was an `ERR` line. */
  lastLineWasError: boolean;
}

/** Connects and runs one session. Throws {@linkcode ConnectError} when no connection can be made. */
export async function runClient(options: ClientOptions): Promise<ClientOutcome> {
  const { terminal } = options;
  const address = formatAddress(options.host, options.port);
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({
      hostname: options.host,
      port: options.port,
      signal: AbortSignal.timeout(options.connectTimeout * 1000),
    });
  } catch (error) {
    const hint = error instanceof Deno.errors.ConnectionRefused
      ? " (is the server running? start one with: deno task server)"
      : "";
    throw new ConnectError(`cannot connect to ${address}: ${describeNetError(error)}${hint}`, {
      cause: error,
    });
  }
  conn.setNoDelay(true);
  terminal.status(
    `connected to ${address}${options.messages.length ? "" : "; type . alone on a line to quit"}`,
  );

  let lastLineWasError = false;
  const printLine = (line: string) => {
    lastLineWasError = line.startsWith("ERR");
    terminal.print(
      options.json
        ? JSON.stringify({ time: isoTime(), text: line })
        : `[${clockTime()}] ${escapeControl(line)}`,
    );
  };
  const interrupted = Promise.withResolvers<"interrupted">();
  terminal.onInterrupt(() => interrupted.resolve("interrupted"));

  // Neither promise rejects: every way a direction can end is a value.
  const received = receive(conn, printLine);
  const sent = send(conn, options.messages.length ? options.messages : terminal.lines);
  const first = await Promise.race([received, sent, interrupted.promise]);
  let end: ClientOutcome["end"];
  if (first !== "input ended") {
    end = first;
  } else {
    try {
      await conn.closeWrite();
    } catch {
      // The server already went away; `received` says how.
    }
    end = await Promise.race([
      received,
      interrupted.promise,
      after(options.wait * 1000, "wait expired" as const),
    ]);
  }
  terminal.close();
  if (end === "server closed") terminal.status("connection closed by server");
  else if (end === "connection lost") terminal.status("connection lost: the server reset it");
  try {
    conn.close();
  } catch {
    // The server closed it first.
  }
  return { end, lastLineWasError };
}

/** Resolves with `value` after `ms` milliseconds, without keeping the process alive past it. */
function after<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(value), ms);
    Deno.unrefTimer(timer as unknown as number);
  });
}

/** Prints lines from the server until it closes; resolves with how it ended. */
async function receive(
  conn: Deno.TcpConn,
  onLine: (line: string) => void,
): Promise<"server closed" | "connection lost"> {
  const decoder = new TextDecoder();
  const framer = new LineFramer(MAX_RECEIVED_LINE);
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) return "server closed";
      framer.push(buffer.subarray(0, n), (line) => onLine(decoder.decode(line)));
    }
  } catch {
    // Reset by the server, or closed by us after the session ended (then nobody is listening).
    return "connection lost";
  }
}

/**
 * Sends lines until `.` or the end of input. `.` is an end of input like any other: the client
 * half-closes and prints the server's last lines, rather than closing on unread data (which makes
 * the kernel reset the connection).
 */
async function send(
  conn: Deno.TcpConn,
  lines: AsyncIterable<string> | Iterable<string>,
): Promise<"input ended" | "connection lost"> {
  try {
    for await (const line of lines) {
      if (line === ".") break;
      const bytes = encoder.encode(line + "\n");
      let written = 0;
      while (written < bytes.length) written += await conn.write(bytes.subarray(written));
    }
    return "input ended";
  } catch {
    // The socket broke; the receive side reports why.
    return "connection lost";
  }
}
