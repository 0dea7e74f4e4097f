/**
 * `parley-server`: flags in, server running, exit code out. Everything else lives in `lib/`.
 *
 * Exit codes: 0 after a graceful shutdown, 1 when the server cannot run (e.g. the port is taken),
 * 2 for bad flags, 130 when a second Ctrl+C cuts the drain short.
 */

import { parseServerArgs, serverHelp, UsageError, VERSION } from "./lib/cli.ts";
import { createLogger } from "./lib/log.ts";
import { describeNetError, formatAddress } from "./lib/net.ts";
import { writeLine } from "./lib/output.ts";
import { serve } from "./lib/server.ts";

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

  let listener;
  try {
    // A deep backlog lets a storm of connects queue in the kernel instead of being refused.
    listener = Deno.listen({
      hostname: config.host,
      port: config.port,
      transport: "tcp",
      tcpBacklog: config.backlog,
    });
  } catch (error) {
    writeLine(
      Deno.stderr,
      `cannot listen on ${formatAddress(config.host, config.port)}: ${describeNetError(error)}`,
    );
    return 1;
  }

  const shutdown = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    // The first Ctrl+C drains gracefully; a second one means "now".
    if (++interrupts > 1) Deno.exit(130);
    shutdown.abort("SIGINT");
  };
  const onSigterm = () => shutdown.abort("SIGTERM");
  Deno.addSignalListener("SIGINT", onSigint);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", onSigterm);

  const logger = createLogger({
    format: config.log,
    quiet: config.quiet,
    write: (line) => writeLine(Deno.stderr, line),
  });
  // Connections turn their failures into close reasons, so this should never fire; if a bug lets
  // one through, it must cost a log line, not every client their connection.
  const onUnhandled = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    const reason = event.reason instanceof Error
      ? event.reason.stack ?? event.reason.message
      : String(event.reason);
    logger.error("unhandled_rejection", `internal error (unhandled rejection): ${reason}`);
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);

  const server = serve(listener, {
    mode: config.mode,
    maxLine: config.maxLine,
    maxQueue: config.maxQueue,
    drainTimeout: config.drainTimeout,
    maxConns: config.maxConns,
    maxConnsPerIp: config.maxConnsPerIp,
    idleTimeout: config.idleTimeout,
    lineTimeout: config.lineTimeout,
    logger,
    signal: shutdown.signal,
    operator: { input: Deno.stdin.readable, print: (line) => writeLine(Deno.stdout, line) },
  });
  await server.finished;
  globalThis.removeEventListener("unhandledrejection", onUnhandled);
  Deno.removeSignalListener("SIGINT", onSigint);
  if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGTERM", onSigterm);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
