/**
 * The operator of console mode: what the lines they type mean, and where those lines come from.
 *
 * Parsing is pure, so every command form is unit-tested; carrying commands out is the console
 * mode's job. Piped operator input is framed with the same {@linkcode LineFramer} as client input,
 * so a huge paste is bounded too.
 */

import { LineFramer, LineTooLongError } from "../protocol/framer.ts";

/** The operator's side of console mode: lines typed, and a place to show the conversation. */
export interface Operator {
  /** Lines the operator types, until their input ends. */
  lines: AsyncIterable<string>;
  /** Shows one line to the operator. */
  print(line: string): void;
}

/** What one line typed by the operator asks for. */
export type OperatorCommand =
  | { kind: "reply"; text: string }
  | { kind: "send"; id: number; text: string }
  | { kind: "all"; text: string }
  | { kind: "list" }
  | { kind: "kick"; id: number }
  | { kind: "end" }
  | { kind: "quit" }
  | { kind: "help" }
  | { kind: "none" }
  | { kind: "invalid"; message: string };

/** Shown by `/help`. */
export const OPERATOR_HELP = [
  "text        reply to the client that sent the last line",
  "@ID text    send to client ID",
  "/all text   send to every client",
  "/list       show connected clients",
  "/kick ID    disconnect client ID",
  ".           end the conversation with the current client",
  "/quit       shut the server down gracefully",
  "//text      send a line that starts with / (likewise @@ for @)",
].join("\n");

function clientId(text: string): number | undefined {
  return /^[1-9]\d{0,15}$/.test(text) ? Number(text) : undefined;
}

/** Parses one operator line. */
export function parseOperatorCommand(line: string): OperatorCommand {
  if (line === "") return { kind: "none" };
  if (line === ".") return { kind: "end" };
  if (line.startsWith("//") || line.startsWith("@@")) return { kind: "reply", text: line.slice(1) };
  if (line.startsWith("@")) {
    const space = line.indexOf(" ");
    const id = clientId(space === -1 ? line.slice(1) : line.slice(1, space));
    if (id === undefined) {
      return { kind: "invalid", message: `"${line.split(" ")[0]}" is not a client id; try @3 hello` };
    }
    return { kind: "send", id, text: space === -1 ? "" : line.slice(space + 1) };
  }
  if (!line.startsWith("/")) return { kind: "reply", text: line };
  const space = line.indexOf(" ");
  const verb = space === -1 ? line : line.slice(0, space);
  const rest = space === -1 ? "" : line.slice(space + 1);
  switch (verb) {
    case "/all":
      return { kind: "all", text: rest };
    case "/list":
      return { kind: "list" };
    case "/help":
      return { kind: "help" };
    case "/quit":
      return { kind: "quit" };
    case "/kick": {
      const id = clientId(rest.trim());
      return id === undefined
        ? { kind: "invalid", message: "usage: /kick ID (see /list)" }
        : { kind: "kick", id };
    }
    default:
      return {
        kind: "invalid",
        message: `unknown command ${verb}; /help lists them (//text sends a line starting with /)`,
      };
  }
}

/** Options for {@linkcode readLines}. */
export interface ReadLinesOptions {
  /** Longest line accepted; a longer one is reported and skipped. */
  maxLine: number;
  /** Hears about a line that was skipped for being too long. */
  onSkipped: (message: string) => void;
  /** Stops reading (and releases the stream) when it aborts. */
  signal?: AbortSignal;
}

/** The lines of `input` (decoded UTF-8), until it ends or `options.signal` aborts. */
export async function* readLines(
  input: ReadableStream<Uint8Array>,
  options: ReadLinesOptions,
): AsyncGenerator<string> {
  const { signal } = options;
  const decoder = new TextDecoder();
  const framer = new LineFramer(options.maxLine);
  const reader = input.getReader();
  const cancel = () => void reader.cancel().catch(() => {/* input already gone; nothing to stop */});
  signal?.addEventListener("abort", cancel, { once: true });
  try {
    while (!signal?.aborted) {
      const { value, done } = await reader.read();
      if (done) return;
      framer.feed(value);
      while (true) {
        let line;
        try {
          line = framer.next();
        } catch (error) {
          if (!(error instanceof LineTooLongError)) throw error;
          options.onSkipped(`input line skipped: ${error.message}`);
          continue;
        }
        if (line === null) break;
        yield decoder.decode(line);
      }
    }
  } finally {
    signal?.removeEventListener("abort", cancel);
    reader.releaseLock();
  }
}
