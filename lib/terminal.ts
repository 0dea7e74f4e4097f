/**
 * The client's terminal: the user's lines in, received lines and status out.
 *
 * On a terminal, `node:readline` gives a prompt with line editing and history, and every line
 * printed while the user types is written above the prompt, which is then redrawn with the
 * half-typed input intact. When stdin is a pipe or file there is no prompt and no redrawing, so
 * scripts get clean output.
 */

import process from "node:process";
import { createInterface } from "node:readline";
import { writeLine } from "./util/write.ts";

/** Where the client's lines come from and go to. */
export interface Terminal {
  /** The user's lines, until end of input. */
  lines: AsyncIterable<string>;
  /** Prints a line to stdout. */
  print(text: string): void;
  /** Prints a status line to stderr. */
  status(text: string): void;
  /** Called when the user presses Ctrl+C at the prompt. */
  onInterrupt(handler: () => void): void;
  /** Stops reading input. */
  close(): void;
}

/** Opens the process's terminal, interactive when stdin is a TTY. */
export function openTerminal(): Terminal {
  const interactive = Deno.stdin.isTerminal();
  const readline = createInterface({
    input: process.stdin,
    output: interactive ? process.stdout : undefined,
    terminal: interactive,
    crlfDelay: Infinity,
    historySize: 1000,
  });
  if (interactive) {
    readline.setPrompt("> ");
    readline.prompt();
    // Each entered line gets a fresh prompt.
    readline.on("line", () => readline.prompt());
  }
  const iterator = readline[Symbol.asyncIterator]();
  function above(file: typeof Deno.stdout, text: string): void {
    if (!interactive) return writeLine(file, text);
    clearPromptLine();
    writeLine(file, text);
    readline.prompt(true);
  }
  return {
    // Iterate from now on: readline drops lines that arrive before an iterator exists, and stdin
    // is often piped in full before the connection is up.
    lines: { [Symbol.asyncIterator]: () => iterator },
    print: (text) => above(Deno.stdout, text),
    status: (text) => above(Deno.stderr, text),
    onInterrupt: (handler) => void readline.on("SIGINT", handler),
    close: () => {
      if (interactive) clearPromptLine();
      readline.close();
    },
  };
}

function clearPromptLine(): void {
  // Carriage return and "erase line": the prompt and half-typed input vanish until redrawn.
  process.stdout.write("\r\x1b[2K");
}
