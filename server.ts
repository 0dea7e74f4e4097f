/**
 * `parley-server`: flags in, server running, exit code out. Everything else lives in `lib/`.
 *
 * Exit codes: 0 after a graceful shutdown, 1 when the server cannot run (e.g. the port is taken)
 * or one of its workers died, 2 for bad flags, 130 when a second Ctrl+C cuts the drain short.
 *
 * One Ctrl+C can arrive twice: `deno task` forwards the terminal's SIGINT to this process, which
 * the terminal also signalled itself, a few milliseconds apart. A SIGINT within
 * {@linkcode SAME_CTRL_C_MS} of the first is that same keypress; a person's second press comes later.
 */

import { UsageError, VERSION } from "./lib/app/cli/flags.ts";
import { parseServerArgs, serverHelp } from "./lib/app/cli/server_flags.ts";
import { createLogger, logUnhandledRejections } from "./lib/log.ts";
import type { ServerHandle } from "./lib/server/serve.ts";
import { StartError, startServer } from "./lib/app/start_server.ts";
import { openTerminal, ownsTerminal } from "./lib/terminal.ts";
import { describeNetError } from "./lib/util/net.ts";
import { writeLine } from "./lib/util/write.ts";

/** Signals closer together than this are one Ctrl+C (see above). */
const SAME_CTRL_C_MS = 500;

/** Runs the server with command-line `args`; resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  let command;
  try {
    command = parseServerArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    writeLine(Deno.stderr, `parley-server: ${error.message} (see --help)`);
    return 2;
  }
  if (command.kind === "help") {
    writeLine(Deno.stdout, serverHelp());
    return 0;
  }
  if (command.kind === "version") {
    writeLine(Deno.stdout, `parley-server ${VERSION}`);
    return 0;
  }
  const config = command.config;

  // Only the operator reads stdin: console mode's, or a chat's at a terminal it owns (a server
  // started in the foreground); in echo mode the terminal stays as it is.
  const operated = config.mode === "console" || (config.mode === "chat" && ownsTerminal());
  const terminal = operated ? openTerminal({ maxLine: config.maxLine }) : undefined;
  const shutdown = new AbortController();
  let firstInterrupt: number | undefined;
  const onSigint = () => {
    const now = performance.now();
    if (firstInterrupt === undefined) {
      firstInterrupt = now;
      shutdown.abort("SIGINT");
    } else if (now - firstInterrupt > SAME_CTRL_C_MS) {
      // A second Ctrl+C means "now".
      terminal?.close();
      Deno.exit(130);
    }
  };
  terminal?.onInterrupt(onSigint);
  const onSigterm = () => shutdown.abort("SIGTERM");
  const logger = createLogger({
    format: config.log,
    quiet: config.quiet,
    level: config.logLevel,
    write: terminal ? terminal.status : (line) => writeLine(Deno.stderr, line),
  });

  // The listeners stay until the process exits: a SIGINT with no listener kills a Deno process, and
  // the copy of the Ctrl+C that `deno task` forwards can arrive after a quick shutdown has finished.
  Deno.addSignalListener("SIGINT", onSigint);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", onSigterm);

  const operator = terminal && { lines: terminal.lines, print: terminal.print, prompt: terminal.setPrompt };
  let server: ServerHandle | undefined;
  // SIGHUP reloads what can change without a restart; a failure keeps the old settings. Listened
  // for from the start: a SIGHUP's default action would end a server that is still starting.
  const onSighup = () => {
    if (server === undefined) return logger.warn("reload", "still starting; nothing reloaded", {});
    if (server.reload === undefined) return logger.warn("reload", "nothing to reload here", {});
    server.reload().then(
      (what) => logger.info("reload", what, {}),
      (error) => logger.warn("reload", `reload failed, kept the old settings: ${error.message}`, {}),
    );
  };
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGHUP", onSighup);
  try {
    server = await startServer(config, { logger, signal: shutdown.signal, operator });
  } catch (error) {
    terminal?.close();
    if (error instanceof UsageError) {
      writeLine(Deno.stderr, `parley-server: ${error.message} (see --help)`);
      return 2;
    }
    if (!(error instanceof StartError)) throw error;
    writeLine(Deno.stderr, error.message);
    return 1;
  }
  const stopLogging = logUnhandledRejections(logger);
  let code = 0;
  try {
    await server.finished;
  } catch (error) {
    logger.error("failed", `server failed: ${describeNetError(error)}`);
    code = 1;
  }
  stopLogging();
  terminal?.close();
  return code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
