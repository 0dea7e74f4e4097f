/**
 * `parley-server`: flags in, server running, exit code out. Everything else lives in `lib/`.
 *
 * Exit codes: 0 after a graceful shutdown, 1 when the server cannot run (e.g. the port is taken)
 * or one of its workers died, 2 for bad flags, 130 when a second Ctrl+C cuts the drain short.
 */

import { parseServerArgs, serverHelp, UsageError, VERSION } from "./lib/cli.ts";
import { createLogger, logUnhandledRejections } from "./lib/log.ts";
import { describeNetError, formatAddress, listenTcp } from "./lib/net.ts";
import { writeLine } from "./lib/output.ts";
import { serve, serveSettings } from "./lib/server.ts";
import { serveWorkers, WorkerStartError } from "./lib/worker_pool.ts";

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

  const shutdown = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    // The first Ctrl+C drains gracefully; a second one means "now".
    if (++interrupts > 1) Deno.exit(130);
    shutdown.abort("SIGINT");
  };
  const onSigterm = () => shutdown.abort("SIGTERM");
  const logger = createLogger({
    format: config.log,
    quiet: config.quiet,
    write: (line) => writeLine(Deno.stderr, line),
  });

  Deno.addSignalListener("SIGINT", onSigint);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", onSigterm);
  const stopSignals = () => {
    Deno.removeSignalListener("SIGINT", onSigint);
    if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGTERM", onSigterm);
  };

  let server: { finished: Promise<unknown> };
  try {
    if (config.workers > 1) {
      server = await serveWorkers(config, { logger, signal: shutdown.signal });
    } else {
      server = serve(listenTcp(config), {
        ...serveSettings(config),
        logger,
        signal: shutdown.signal,
        operator: { input: Deno.stdin.readable, print: (line) => writeLine(Deno.stdout, line) },
      });
    }
  } catch (error) {
    writeLine(
      Deno.stderr,
      error instanceof WorkerStartError
        ? error.message
        : `cannot listen on ${formatAddress(config.host, config.port)}: ${describeNetError(error)}`,
    );
    stopSignals();
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
  stopSignals();
  return code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
