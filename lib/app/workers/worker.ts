/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

/**
 * One worker of `--workers N`: it listens on the shared port with SO_REUSEPORT, serves it exactly
 * as a lone server would (with the shared registry and the relay to the other workers), and
 * reports to the main thread. Started by `pool.ts` only.
 */

import { openChatRoom } from "../../redis/mod.ts";
import { SharedRegistry } from "../../registry/shared.ts";
import { BroadcastChannelRelay } from "../../relay/broadcast_channel.ts";
import { createLogger, logUnhandledRejections } from "../../log.ts";
import { sampleLoopLag } from "../../server/metrics.ts";
import { serve } from "../../server/serve.ts";
import { AccessList } from "../../server/access_list.ts";
import { listen } from "../../transport/listen.ts";
import type { Listener } from "../../transport/transport.ts";
import { listenWeb } from "../../web/listener.ts";
import { describeNetError } from "../../util/net.ts";
import { writeLine } from "../../util/write.ts";
import type { WorkerCommand, WorkerReport } from "./pool.ts";

function report(message: WorkerReport): void {
  self.postMessage(message);
}

/** Starts serving as `command` says; from then on, messages are shutdown requests for that server. */
async function start(command: WorkerCommand & { kind: "start" }): Promise<void> {
  const { index, settings, log } = command;
  const logger = createLogger({ ...log, worker: index, write: (line) => writeLine(Deno.stderr, line) });
  let room;
  try {
    room = await openChatRoom(command.room, { local: new SharedRegistry(command.registry), logger });
  } catch (error) {
    report({ kind: "failed", error: error instanceof Error ? error.message : String(error), stage: "start" });
    return;
  }
  const listeners: Listener[] = [];
  try {
    listeners.push(await listen(command.listen));
    if (command.web !== undefined) listeners.push(await listenWeb(command.web));
  } catch (error) {
    for (const listener of listeners) listener.close();
    await room.leave();
    report({ kind: "failed", error: describeNetError(error), stage: "listen" });
    return;
  }
  const stopLogging = logUnhandledRejections(logger);
  const relay = room.relay ??
    (command.relay === undefined ? undefined : new BroadcastChannelRelay(command.relay));
  const server = serve(listeners, {
    ...settings,
    logger,
    registry: room.registry,
    relay,
    history: room.history,
    access: new AccessList(command.access),
  });
  const sampling = new AbortController();
  if (command.admin) sampleLoopLag(server.metrics.loopLag, sampling.signal);
  self.onmessage = (event: MessageEvent<WorkerCommand>) => {
    const message = event.data;
    if (message.kind === "shutdown") void server.shutdown(message.reason);
    else if (message.kind === "stats") {
      const stats = server.stats();
      report({
        kind: "stats",
        id: message.id,
        stats: { ...stats, metrics: stats.metrics.plain() },
        link: room.link?.(),
      });
    }
  };
  report({ kind: "listening" });
  server.finished.then(async (summary) => {
    sampling.abort();
    await room.leave();
    await relay?.close();
    stopLogging();
    report({ kind: "finished", summary });
  });
}

self.onmessage = (event: MessageEvent<WorkerCommand>) => {
  if (event.data.kind === "start") void start(event.data);
};
