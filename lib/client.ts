/**
 * The client session: connect, then send the user's lines and print the server's, concurrently.
 *
 * Reading the socket never waits for the user: received lines are printed the moment they arrive,
 * so chat messages appear while the user is typing. `.` alone, or the end of input (EOF, or after
 * the `--message` lines), half-closes the connection so the server sees the end of the
 * conversation; the client keeps printing until the server closes, for at most `wait` seconds.
 *
 * With `reconnect`, a connection that the server closes or loses is made again, after a jittered
 * exponential back-off. Input is shared across connections, so every line is sent once: a line
 * typed while disconnected goes out after the reconnect, and a line whose write failed is
 * reported, never silently sent again.
 */

import { backoffDelay } from "./backoff.ts";
import { escapeControl } from "./escape.ts";
import { LineFramer } from "./lines.ts";
import { describeNetError, formatAddress } from "./net.ts";
import type { Terminal } from "./terminal.ts";
import { clockTime, isoTime } from "./time.ts";

/** The longest line the client accepts from a server. */
const MAX_RECEIVED_LINE = 16 * 1024 * 1024;

/** Between reconnects: 100 ms, doubling, at most 5 s, jittered. */
const RECONNECT_BACKOFF = { initialMs: 100, maxMs: 5000, random: Math.random };

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
  /** Connect again when the server goes away. @default {false} */
  reconnect?: boolean;
  /** Give up after this many failed connects in a row; 0 for never. @default {0} */
  reconnectAttempts?: number;
  terminal: Terminal;
}

/** How a session ended. */
export interface ClientOutcome {
  /**
   * `server closed`: the server closed the connection; `wait expired`: input ended and the server
   * stayed open for `wait`; `interrupted`: Ctrl+C at the prompt; `connection lost`: the
   * connection broke.
   */
  end: "interrupted" | "server closed" | "wait expired" | "connection lost";
  /** Whether the last line received was an `ERR` line. */
  lastLineWasError: boolean;
}

/**
 * The user's lines, shared by successive connections. A read still pending when a connection
 * ends stays pending for the next one, so no typed line is lost or sent twice.
 */
class LineSource {
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
    return this.#ended ? undefined : result.value;
  }

  take(): void {
    this.#pending = undefined;
  }
}

/**
 * Connects and runs sessions until one ends for good. Throws {@linkcode ConnectError} when no
 * connection can be made (with `reconnect`, once the attempts are used up).
 */
export async function runClient(options: ClientOptions): Promise<ClientOutcome> {
  const { terminal } = options;
  const address = formatAddress(options.host, options.port);
  const lines = new LineSource(options.messages.length ? options.messages : terminal.lines);
  const interrupted = Promise.withResolvers<"interrupted">();
  terminal.onInterrupt(() => interrupted.resolve("interrupted"));
  const maxAttempts = options.reconnectAttempts ?? 0;
  let failures = 0;
  let connectedBefore = false;
  try {
    while (true) {
      let conn: Deno.TcpConn;
      try {
        conn = await connect(options, address);
      } catch (error) {
        if (!options.reconnect || !(error instanceof ConnectError)) throw error;
        failures++;
        if (maxAttempts > 0 && failures >= maxAttempts) {
          throw new ConnectError(`${error.message}; gave up after ${failures} attempts`, { cause: error });
        }
        const waited = await pause(failures, error.message, interrupted.promise, terminal);
        if (waited === "interrupted") return { end: "interrupted", lastLineWasError: false };
        continue;
      }
      failures = 0;
      terminal.status(
        `${connectedBefore ? "reconnected" : "connected"} to ${address}` +
          (options.messages.length ? "" : "; type . alone on a line to quit"),
      );
      connectedBefore = true;
      const outcome = await session(conn, lines, interrupted.promise, options);
      const serverWentAway = outcome.end === "server closed" || outcome.end === "connection lost";
      if (!options.reconnect || !serverWentAway || lines.ended) return outcome;
      failures++;
      const waited = await pause(failures, "the server went away", interrupted.promise, terminal);
      if (waited === "interrupted") return { end: "interrupted", lastLineWasError: outcome.lastLineWasError };
    }
  } finally {
    terminal.close();
  }
}

async function connect(options: ClientOptions, address: string): Promise<Deno.TcpConn> {
  try {
    const conn = await Deno.connect({
      hostname: options.host,
      port: options.port,
      signal: AbortSignal.timeout(options.connectTimeout * 1000),
    });
    conn.setNoDelay(true);
    return conn;
  } catch (error) {
    const hint = error instanceof Deno.errors.ConnectionRefused && !options.reconnect
      ? " (is the server running? start one with: deno task server)"
      : "";
    throw new ConnectError(`cannot connect to ${address}: ${describeNetError(error)}${hint}`, {
      cause: error,
    });
  }
}

/** Tells the user a reconnect is coming and waits for it (or for Ctrl+C). */
async function pause(
  attempt: number,
  why: string,
  interrupted: Promise<"interrupted">,
  terminal: Terminal,
): Promise<"waited" | "interrupted"> {
  const ms = backoffDelay(attempt, RECONNECT_BACKOFF);
  terminal.status(`${why}; reconnecting in ${(ms / 1000).toFixed(1)} s (attempt ${attempt})`);
  return await Promise.race([after(ms, "waited" as const), interrupted]);
}

/** One connection, from connected to closed. */
async function session(
  conn: Deno.TcpConn,
  lines: LineSource,
  interrupted: Promise<"interrupted">,
  options: ClientOptions,
): Promise<ClientOutcome> {
  const { terminal } = options;
  let lastLineWasError = false;
  const printLine = (line: string) => {
    lastLineWasError = line.startsWith("ERR");
    terminal.print(
      options.json
        ? JSON.stringify({ time: isoTime(), text: line })
        : `[${clockTime()}] ${escapeControl(line)}`,
    );
  };
  const over = new AbortController();
  // Neither promise rejects: every way a direction can end is a value.
  const received = receive(conn, printLine);
  const sent = send(conn, lines, over.signal, terminal);
  const first = await Promise.race([received, sent, interrupted]);
  let end: ClientOutcome["end"];
  if (first !== "input ended") {
    end = first;
  } else {
    try {
      await conn.closeWrite();
    } catch {
      // The server already went away; `received` says how.
    }
    end = await Promise.race([received, interrupted, after(options.wait * 1000, "wait expired" as const)]);
  }
  over.abort();
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

/** Sends lines until the end of input, or until the session is `over`. */
async function send(
  conn: Deno.TcpConn,
  lines: LineSource,
  over: AbortSignal,
  terminal: Terminal,
): Promise<"input ended" | "connection lost"> {
  while (true) {
    const line = await lines.peek();
    // The session ended while we waited for the user: the line belongs to the next connection.
    if (over.aborted) return "connection lost";
    if (line === undefined) return "input ended";
    lines.take();
    const bytes = encoder.encode(line + "\n");
    try {
      let written = 0;
      while (written < bytes.length) written += await conn.write(bytes.subarray(written));
    } catch {
      terminal.status(
        `connection lost while sending; this line may not have arrived: ${escapeControl(line)}`,
      );
      return "connection lost";
    }
  }
}
