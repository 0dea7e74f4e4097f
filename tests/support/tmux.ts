/**
 * A real terminal for tests: a program runs in a tmux pane of a known size, the test types with
 * `send-keys` and reads the screen with `capture-pane`, as a person would see it. Every session has
 * its own tmux server (`-L`), killed at the end, so tests never share a terminal.
 */

import { delay } from "../../lib/util/delay.ts";

const decoder = new TextDecoder();

/** `args` as one POSIX shell command line. */
function shellQuote(args: string[]): string {
  return args.map((arg) => /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`).join(
    " ",
  );
}

/**
 * `command` as bash runs it, printing `[exit N]` after it: the exit status as a person's shell sees
 * it (what `deno task` returns, for a program that `deno task` runs).
 */
function inShell(command: string[]): string {
  return `bash -c ${shellQuote([`${shellQuote(command)}; echo "[exit $?]"`])}`;
}

/** Options for {@linkcode Tmux.start}. */
export interface TmuxOptions {
  /** Columns. @default {100} */
  width?: number;
  /** Rows. @default {30} */
  height?: number;
  /** Working directory of the program. */
  cwd?: string;
}

/**
 * One tmux pane running one program at a time, under bash, which prints `[exit N]` when it ends
 * (read it with {@linkcode Tmux.exitStatus}); the pane then stays, so its last screen can be read.
 */
export class Tmux implements AsyncDisposable {
  #socket = `parley-test-${crypto.randomUUID()}`;

  private constructor() {}

  /** Opens a pane of the given size and runs `command` (program and arguments) in it. */
  static async start(command: string[], options: TmuxOptions = {}): Promise<Tmux> {
    const tmux = new Tmux();
    const { width = 100, height = 30, cwd = Deno.cwd() } = options;
    await tmux.#run(
      ["new-session", "-d", "-s", "main", "-x", String(width), "-y", String(height), "-c", cwd, "sleep 3600"],
      [";", "set-window-option", "-t", "main", "remain-on-exit", "on"],
      [";", "respawn-pane", "-k", "-t", "main", "-c", cwd, inShell(command)],
    );
    return tmux;
  }

  /** Runs `command` in the pane again, once the last program has exited. */
  async respawn(command: string[], cwd = Deno.cwd()): Promise<void> {
    await this.#run(["respawn-pane", "-k", "-t", "main", "-c", cwd, inShell(command)]);
  }

  /** Resizes the window to `width` columns (the program gets SIGWINCH), as a person dragging it would. */
  async resize(width: number): Promise<void> {
    await this.#run(["resize-window", "-t", "main", "-x", String(width)]);
  }

  /** Presses keys: tmux key names such as `Enter`, `C-c`, `C-d`, `Up`. */
  async press(...keys: string[]): Promise<void> {
    await this.#run(["send-keys", "-t", "main", ...keys]);
  }

  /** Types `text` literally, as if on the keyboard. */
  async type(text: string): Promise<void> {
    await this.#run(["send-keys", "-t", "main", "-l", text]);
  }

  /** The screen, one string per row, trailing blanks removed. */
  async screen(): Promise<string[]> {
    const out = await this.#run(["capture-pane", "-p", "-t", "main"]);
    return out.replace(/\n$/, "").split("\n").map((row) => row.trimEnd());
  }

  /** The screen's rows without the empty ones at the bottom, nor tmux's own "Pane is dead" line. */
  async rows(): Promise<string[]> {
    const rows = await this.screen();
    while (rows.length > 0 && (rows.at(-1) === "" || rows.at(-1)!.startsWith("Pane is dead"))) rows.pop();
    return rows;
  }

  /** The pane's title, as escape sequences (OSC 0 and 2) could set it. */
  async title(): Promise<string> {
    return (await this.#run(["display-message", "-p", "-t", "main", "#{pane_title}"])).trim();
  }

  /**
   * Waits until the screen satisfies `test` (a pattern some row matches, or a predicate over the
   * rows); returns the rows then. Fails after `timeoutMs`, showing the screen.
   */
  async waitFor(test: RegExp | ((rows: string[]) => boolean), timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    const check = typeof test === "function" ? test : (rows: string[]) => rows.some((row) => test.test(row));
    while (true) {
      const rows = await this.rows();
      if (check(rows)) return rows;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for the screen to show ${test}; it shows:\n${rows.join("\n")}`);
      }
      await delay(25);
    }
  }

  /** Waits for the program to end; resolves with its exit status, as its shell reported it. */
  async exitStatus(timeoutMs = 10_000): Promise<number> {
    // The terminal may have echoed a ^C on the same row.
    const exit = /\[exit (\d+)\]$/;
    const rows = await this.waitFor(exit, timeoutMs);
    return Number(exit.exec(rows.findLast((row) => exit.test(row))!)![1]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#run(["kill-server"]).catch(() => {/* already gone */});
  }

  async #run(...parts: string[][]): Promise<string> {
    const output = await new Deno.Command("tmux", {
      args: ["-L", this.#socket, "-f", "/dev/null", ...parts.flat()],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(`tmux ${parts.flat().join(" ")}: ${decoder.decode(output.stderr).trim()}`);
    }
    return decoder.decode(output.stdout);
  }
}
