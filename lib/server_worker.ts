/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

/**
 * One worker of `--workers N`: it listens on the shared port with SO_REUSEPORT, serves it exactly
 * as a lone server would, and reports to the main thread. Started by worker_pool.ts only.
 */

import { createLogger, logUnhandledRejections } from "./log.ts";
import { describeNetError, listenTcp } from "./net.ts";
import { writeLine } from "./output.ts";
import { serve, serveSettings } from "./server.ts";
import { SharedState } from "./shared_state.ts";
import type { WorkerCommand, WorkerReport } from "./worker_pool.ts";

function report(message: WorkerReport): void {
  self.postMessage(message);
}

/** Starts serving as `command` says; from then on, messages are shutdown requests for that server. */
function start(command: WorkerCommand & { kind: "start" }): void {
  const { index, config, shared, relay } = command;
  let listener;
  try {
    listener = listenTcp(config, true);
  } catch (error) {
    report({ kind: "failed", error: describeNetError(error) });
    return;
  }
  const logger = createLogger({
    format: config.log,
    quiet: config.quiet,
    worker: index,
    write: (line) => writeLine(Deno.stderr, line),
  });
  const stopLogging = logUnhandledRejections(logger);
  const server = serve(listener, {
    ...serveSettings(config),
    logger,
    shared: new SharedState(shared),
    relay,
  });
  self.onmessage = (event: MessageEvent<WorkerCommand>) => {
    if (event.data.kind === "shutdown") void server.shutdown(event.data.reason);
  };
  report({ kind: "listening" });
  server.finished.then((summary) => {
    stopLogging();
    report({ kind: "finished", summary });
  });
}

self.onmessage = (event: MessageEvent<WorkerCommand>) => {
  if (event.data.kind === "start") start(event.data);
};
