/**
 * The user's terminal, for both programs: the lines the user types, and the lines the program
 * prints (to stdout, or status to stderr).
 *
 * On a terminal, `node:readline` gives a prompt with line editing and history, and every line
 * printed while the user types is written above the prompt: the prompt and the half-typed input,
 * however many rows they wrap over, are erased, the line is printed, and the prompt is drawn again
 * with the input and the cursor where they were. Ctrl+C at the prompt is an interrupt (the
 * terminal is in raw mode, so no signal is sent); Ctrl+D on an empty line ends the input.
 *
 * When stdin is a pipe or a file there is no prompt and no redrawing, so scripts get clean output,
 * and input lines are framed with the same capped framer as the network's, so a huge line is
 * skipped and reported instead of held in memory.
 */

import process from "node:process";
import { clearScreenDown, createInterface, cursorTo, type Interface, moveCursor } from "node:readline";
import { LineFramer, LineTooLongError } from "./protocol/framer.ts";
import { writeLine } from "./util/write.ts";

/** Where a program's lines come from and go to. */
export interface Terminal {
  /** Whether stdin is a terminal (with a prompt and line editing). */
  readonly interactive: boolean;
  /** The user's lines, until the end of input. */
  lines: AsyncIterable<string>;
  /** Prints a line to stdout. */
  print(text: string): void;
  /** Prints a status line to stderr. */
  status(text: string): void;
  /** Changes the prompt (interactive only), keeping what the user has typed. */
  setPrompt(prompt: string): void;
  /** Called when the user presses Ctrl+C at the prompt. */
  onInterrupt(handler: () => void): void;
  /** Stops reading input and gives the terminal back as it was. */
  close(): void;
}

/** Options for {@linkcode openTerminal}. */
export interface TerminalOptions {
  /** @default {"> "} */
  prompt?: string;
  /** Longest piped input line; a longer one is skipped with a note on stderr. @default {16 MiB} */
  maxLine?: number;
}

/** Opens the process's terminal: interactive when stdin is a TTY, plain lines otherwise. */
export function openTerminal(options: TerminalOptions = {}): Terminal {
  return Deno.stdin.isTerminal() ? interactiveTerminal(options.prompt ?? "> ") : pipedTerminal(options);
}

/**
 * Whether stdin is a terminal this process may take: a terminal whose foreground process group is
 * this process's. A server started with `&` from a shell is in the background, and reading or
 * setting up its terminal would stop it (SIGTTIN, SIGTTOU); outside Linux, a terminal is taken.
 */
export function ownsTerminal(): boolean {
  if (!Deno.stdin.isTerminal()) return false;
  if (Deno.build.os !== "linux") return true;
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    // After "pid (comm) ": state ppid pgrp session tty_nr tpgid ...
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[2] === fields[5];
  } catch {
    return true;
  }
}

/** The terminal's width now (an ioctl on stdout); 80 where it cannot say. */
function liveColumns(): number {
  try {
    return Deno.consoleSize().columns || 80;
  } catch {
    return process.stdout.columns ?? 80;
  }
}

/** Readline's own record of the rows its last redraw left above the cursor. */
type Redrawn = Interface & { prevRows?: number };

function interactiveTerminal(prompt: string): Terminal {
  const readline: Redrawn = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: true,
    crlfDelay: Infinity,
    historySize: 1000,
  });
  let open = true;

  /** Erases the prompt and the input, every row they wrap over; the cursor ends where they began. */
  function erase(): void {
    const { rows } = readline.getCursorPos();
    if (rows > 0) moveCursor(process.stdout, 0, -rows);
    cursorTo(process.stdout, 0);
    clearScreenDown(process.stdout);
  }

  /** Draws the prompt and the input again from the cursor, which is at the start of a free row. */
  function redraw(): void {
    readline.prevRows = 0;
    readline.prompt(true);
  }

  // Ctrl+D, or close(): the prompt goes, so that what is printed next starts on a clean row.
  readline.on("close", () => {
    erase();
    open = false;
  });
  readline.setPrompt(prompt);
  readline.prompt();
  // Each entered line gets a fresh prompt.
  readline.on("line", () => {
    if (open) readline.prompt();
  });
  // The width the prompt is laid out at is asked of the terminal each time, not remembered from the
  // last SIGWINCH: a line printed between a resize and its signal is then erased at the right width.
  Object.defineProperty(readline, "columns", { get: liveColumns });
  // A resized terminal reflows what it shows to its new width (tmux, VTE, iTerm and the like do).
  // readline's own refresh then works from the rows of the old layout and leaves a stale half
  // prompt behind; so the prompt is erased as laid out at the new width, and drawn again, here.
  process.stdout.removeAllListeners("resize");
  process.stdout.on("resize", () => {
    if (!open) return;
    erase();
    redraw();
  });
  // Iterate from now on: readline drops lines that arrive before an iterator exists.
  const iterator = readline[Symbol.asyncIterator]();

  /** Prints `text` where the prompt was, and the prompt below it. */
  function above(file: typeof Deno.stdout, text: string): void {
    if (!open) return writeLine(file, text);
    erase();
    writeLine(file, text);
    redraw();
  }

  return {
    interactive: true,
    lines: { [Symbol.asyncIterator]: () => iterator },
    print: (text) => above(Deno.stdout, text),
    status: (text) => above(Deno.stderr, text),
    setPrompt(next) {
      if (next === readline.getPrompt()) return;
      if (!open) return readline.setPrompt(next);
      erase();
      readline.setPrompt(next);
      redraw();
    },
    onInterrupt: (handler) => void readline.on("SIGINT", handler),
    close() {
      if (open) readline.close();
    },
  };
}

function pipedTerminal(options: TerminalOptions): Terminal {
  const stop = new AbortController();
  const lines = readLines(Deno.stdin.readable, {
    maxLine: options.maxLine ?? 16 * 1024 * 1024,
    onSkipped: (message) => writeLine(Deno.stderr, message),
    signal: stop.signal,
  });
  return {
    interactive: false,
    lines,
    print: (text) => writeLine(Deno.stdout, text),
    status: (text) => writeLine(Deno.stderr, text),
    setPrompt() {},
    // Without a terminal, Ctrl+C is a signal, which the program handles itself.
    onInterrupt() {},
    close: () => stop.abort(),
  };
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
