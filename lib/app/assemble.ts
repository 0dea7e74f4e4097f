/**
 * The composition root of one accept loop: backend, then listeners, then `serve()`, and the
 * backend left once the server has finished. A single process and each worker of `--workers`
 * assemble themselves here from the same plain plan, so there is one copy of the wiring.
 */

import type { Backend } from "../backend.ts";
import type { Logger } from "../log.ts";
import type { Registry } from "../registry/registry.ts";
import { AccessList } from "../server/access_list.ts";
import type { Operator } from "../server/operator.ts";
import { FileTranscript } from "../server/transcript.ts";
import { serve, type Server, type ServerHandle, type ServeSummary } from "../server/serve.ts";
import { listen } from "../transport/listen.ts";
import type { Listener } from "../transport/transport.ts";
import { describeNetError } from "../util/net.ts";
import { listenWeb } from "../web/listener.ts";
import { openBackend } from "./backends.ts";
import type { ServerPlan } from "./plan.ts";

/** The transcript file cannot be opened; the message is one sentence. */
export class TranscriptError extends Error {
  constructor(path: string, cause: unknown) {
    super(`cannot open the transcript ${path}: ${describeNetError(cause)}`, { cause });
    this.name = "TranscriptError";
  }
}

/** Options for {@linkcode assemble}. */
export interface AssembleOptions {
  /** Admission limits: a `MemoryRegistry`, or a worker's `SharedRegistry`. */
  local: Registry;
  logger: Logger;
  /** Aborting it shuts the server down. */
  signal?: AbortSignal;
  /** The operator at the server's terminal (console mode, or a chat's console), if any. */
  operator?: Operator;
}

/** A server assembled: the server itself, its listeners, its backend, and the handle that leaves it too. */
export interface Assembled {
  server: Server;
  listeners: Listener[];
  backend: Backend;
  /** `--transcript`, reopened on SIGHUP. */
  transcript?: FileTranscript;
  /** `server`, which has finished only once it has also left its backend. */
  handle: ServerHandle;
}

/**
 * Opens the transcript, the backend, then the listeners, then serves. Rejects with a
 * {@linkcode TranscriptError} when the transcript cannot be opened, a `RedisLinkError` when the
 * backend cannot be joined, and with the listener's error (a `WebListenError` for the web port)
 * when it cannot listen, having closed and left what it had opened.
 */
export async function assemble(plan: ServerPlan, options: AssembleOptions): Promise<Assembled> {
  const { local, logger, signal, operator } = options;
  const transcript = plan.transcript === undefined
    ? undefined
    : await openTranscript(plan.transcript, logger);
  let backend: Backend;
  try {
    backend = await openBackend(plan.backend, { local, logger });
  } catch (error) {
    await transcript?.close();
    throw error;
  }
  const listeners: Listener[] = [];
  try {
    listeners.push(await listen(plan.listen));
    if (plan.web !== undefined) listeners.push(await listenWeb(plan.web));
  } catch (error) {
    for (const listener of listeners) listener.close();
    await backend.leave();
    await transcript?.close();
    throw error;
  }
  // The bans in force elsewhere, before a banned address can slip in.
  const bans = await backend.bans?.load().catch((error) => {
    logger.warn("redis_error", `cannot read the bans: ${error}`, { error: String(error) });
    return [];
  });
  const server = serve(listeners, {
    ...plan.settings,
    registry: backend.registry,
    relay: backend.relay,
    history: backend.history,
    directory: backend.directory,
    bans,
    banStore: backend.bans,
    sessionStore: backend.sessions,
    transcript,
    access: new AccessList(plan.access),
    logger,
    signal,
    operator,
  });
  const leave = async () => {
    await backend.leave();
    await transcript?.close();
  };
  return { server, listeners, backend, transcript, handle: leavingAfter(server, leave) };
}

/** Opens `--transcript`; rejects with a {@linkcode TranscriptError}. */
async function openTranscript(
  transcript: NonNullable<ServerPlan["transcript"]>,
  logger: Logger,
): Promise<FileTranscript> {
  try {
    return await FileTranscript.open(transcript.path, { private: transcript.private, logger });
  } catch (error) {
    throw new TranscriptError(transcript.path, error);
  }
}

/** `server`, which has finished only once `leave` has too. */
function leavingAfter(server: Server, leave: () => Promise<void>): ServerHandle {
  const finished: Promise<ServeSummary> = server.finished.finally(leave);
  return {
    addr: server.addr,
    finished,
    stats: () => server.stats(),
    reload: () => server.reload?.() ?? Promise.reject(new Error("nothing to reload")),
    shutdown(reason) {
      void server.shutdown(reason).catch(() => {/* reported by finished */});
      return finished;
    },
    async [Symbol.asyncDispose]() {
      await this.shutdown();
    },
  };
}
