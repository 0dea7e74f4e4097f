/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

/**
 * One worker of `--workers N`: it assembles the server of its plan exactly as a lone server does
 * (`../assemble.ts`), with the shared registry for its limits, listening on the shared port with
 * SO_REUSEPORT, and reports to the main thread. Started by `pool.ts` only.
 */

import { createLogger, logUnhandledRejections } from "../../log.ts";
import { RedisLinkError } from "../../redis/link.ts";
import { SharedRegistry } from "../../registry/shared.ts";
import { sampleLoopLag } from "../../server/metrics.ts";
import { describeNetError } from "../../util/net.ts";
import { writeLine } from "../../util/write.ts";
import { assemble, TranscriptError } from "../assemble.ts";
import { applyReload } from "../reload.ts";
import type { Operator } from "../../server/operator.ts";
import type { WorkerCommand, WorkerReport } from "./pool.ts";

function report(message: WorkerReport): void {
  self.postMessage(message);
}

/** Starts serving as `command` says; from then on, messages are shutdown requests for that server. */
async function start(command: WorkerCommand & { kind: "start" }): Promise<void> {
  const { index, log } = command;
  const logger = createLogger({ ...log, worker: index, write: (line) => writeLine(Deno.stderr, line) });
  const operator = command.operated ? relayedOperator() : undefined;
  let assembled;
  try {
    assembled = await assemble(command.plan, {
      local: new SharedRegistry(command.registry),
      logger,
      operator: operator?.operator,
    });
  } catch (error) {
    report(
      error instanceof RedisLinkError || error instanceof TranscriptError
        ? { kind: "failed", error: error.message, stage: "start" }
        : { kind: "failed", error: describeNetError(error), stage: "listen" },
    );
    return;
  }
  const { server, listeners, backend, transcript, handle } = assembled;
  const stopLogging = logUnhandledRejections(logger);
  const sampling = new AbortController();
  if (command.admin) sampleLoopLag(server.metrics.loopLag, sampling.signal);
  self.onmessage = (event: MessageEvent<WorkerCommand>) => {
    const message = event.data;
    if (message.kind === "shutdown") void handle.shutdown(message.reason);
    else if (message.kind === "operator") operator?.typed(message.line);
    else if (message.kind === "operator-end") operator?.ended();
    else if (message.kind === "reload") {
      const { id } = message;
      applyReload({ server, listeners, transcript }, message.reloaded).then(
        () => report({ kind: "reloaded", id }),
        (error) =>
          report({ kind: "reloaded", id, error: error instanceof Error ? error.message : String(error) }),
      );
    } else if (message.kind === "stats") {
      const stats = server.stats();
      report({
        kind: "stats",
        id: message.id,
        worker: index,
        stats: { ...stats, metrics: stats.metrics.plain() },
        link: backend.health?.(),
      });
    }
  };
  report({ kind: "listening" });
  handle.finished.then((summary) => {
    sampling.abort();
    stopLogging();
    report({ kind: "finished", summary });
  });
}

self.onmessage = (event: MessageEvent<WorkerCommand>) => {
  if (event.data.kind === "start") void start(event.data);
};

/**
 * The operator at the main thread's terminal, as this worker sees it: the lines typed there arrive
 * as messages, and what the console prints goes back as reports.
 */
function relayedOperator(): { operator: Operator; typed(line: string): void; ended(): void } {
  const waiting: string[] = [];
  let wake: (() => void) | undefined;
  let over = false;
  async function* lines(): AsyncGenerator<string> {
    while (true) {
      const line = waiting.shift();
      if (line !== undefined) {
        yield line;
        continue;
      }
      if (over) return;
      await new Promise<void>((resolve) => wake = resolve);
    }
  }
  return {
    operator: {
      lines: lines(),
      print: (line) => report({ kind: "print", line }),
      prompt: (text) => report({ kind: "prompt", text }),
    },
    typed(line) {
      waiting.push(line);
      wake?.();
    },
    ended() {
      over = true;
      wake?.();
    },
  };
}
