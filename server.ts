/**
 * `parley-server`: flags in, server running, exit code out. Everything else lives in `lib/`.
 *
 * Exit codes: 0 after a graceful shutdown, 1 when the server cannot run (e.g. the port is taken)
 * or one of its workers died, 2 for bad flags, 130 when a second Ctrl+C cuts the drain short.
 */

import { parseServerArgs, type ServerConfig, serverHelp, UsageError, VERSION } from "./lib/cli.ts";
import { MemoryRegistry } from "./lib/registry/memory.ts";
import { createLogger, type Logger, logUnhandledRejections } from "./lib/server/log.ts";
import { readLines } from "./lib/server/operator.ts";
import { serve, type ServerHandle } from "./lib/server/serve.ts";
import { listenTcp } from "./lib/transport/tcp.ts";
import { describeNetError, formatAddress } from "./lib/util/net.ts";
import { writeLine } from "./lib/util/write.ts";
import { serveWorkers, WorkerStartError } from "./lib/workers/pool.ts";

/** Starts the server `config` describes: one accept loop here, or a pool of workers. */
async function start(config: ServerConfig, logger: Logger, signal: AbortSignal): Promise<ServerHandle> {
  const { host, port, backlog, mode, maxLine, maxQueue, drainTimeout, idleTimeout, lineTimeout } = config;
  const listen = { host, port, backlog };
  const settings = { mode, maxLine, maxQueue, drainTimeout, idleTimeout, lineTimeout };
  const limits = { maxConns: config.maxConns, maxConnsPerIp: config.maxConnsPerIp };
  if (config.workers > 1) {
    const log = { format: config.log, quiet: config.quiet };
    return await serveWorkers({ workers: config.workers, listen, settings, limits, log, logger, signal });
  }
  const operator = {
    lines: readLines(Deno.stdin.readable, {
      maxLine,
      onSkipped: (message: string) => writeLine(Deno.stdout, `! ${message}`),
      signal,
    }),
    print: (line: string) => writeLine(Deno.stdout, line),
  };
  return serve(listenTcp(listen), {
    ...settings,
    registry: new MemoryRegistry(limits),
    logger,
    signal,
    operator,
  });
}

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

  let server: ServerHandle;
  try {
    server = await start(config, logger, shutdown.signal);
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
