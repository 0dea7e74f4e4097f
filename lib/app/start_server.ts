/**
 * From a command line's settings to a running server: the plan (`plan.ts`), then one accept loop
 * assembled here (`assemble.ts`) or a pool of workers that each assemble their own, then the
 * operator's endpoint (`--admin`) and what SIGHUP reloads. Everything that can go wrong here is the
 * user's to fix, so it is said in one sentence: {@linkcode StartError} (exit 1) or, for a bad list
 * entry, `UsageError` (exit 2).
 */

import type { Logger } from "../log.ts";
import { RedisLinkError } from "../redis/link.ts";
import { MemoryRegistry } from "../registry/memory.ts";
import { AccessList } from "../server/access_list.ts";
import { type AdminOptions, serveAdmin } from "../server/admin.ts";
import type { Operator } from "../server/operator.ts";
import type { ServerHandle } from "../server/serve.ts";
import type { ListenSpec } from "../transport/listen.ts";
import { describeNetError, formatAddress } from "../util/net.ts";
import { WebListenError, type WebListenOptions } from "../web/listener.ts";
import { assemble, TranscriptError } from "./assemble.ts";
import type { ServerConfig } from "./cli/server_flags.ts";
import { planServer, type ServerPlan, StartError } from "./plan.ts";
import { applyReload, describeReload, readReload } from "./reload.ts";
import { serveWorkers, WorkerStartError } from "./workers/pool.ts";

export { StartError } from "./plan.ts";

/** Options for {@linkcode startServer}. */
export interface StartOptions {
  logger: Logger;
  /** Aborting it shuts the server down. */
  signal: AbortSignal;
  /** The operator at the server's terminal (console mode, or a chat's console), if any. */
  operator?: Operator;
}

/** Starts the server `config` describes: one accept loop, or a pool of workers. */
export async function startServer(config: ServerConfig, options: StartOptions): Promise<ServerHandle> {
  const { logger, signal, operator } = options;
  const plan = await planServer(config);
  const limits = { maxConns: config.maxConns, maxConnsPerIp: config.maxConnsPerIp };
  const { listen } = plan;
  if (config.workers > 1 && listen.transport !== "unix") {
    let pool;
    try {
      pool = await serveWorkers({
        workers: config.workers,
        plan: { ...plan, listen },
        limits,
        log: { format: config.log, quiet: config.quiet, level: config.logLevel },
        logger,
        signal,
        admin: config.admin !== undefined,
        operator,
      });
    } catch (error) {
      throw startError(error, plan);
    }
    let access = new AccessList(plan.access);
    // SIGHUP: read and checked here once, then put in force in every worker.
    pool.reload = async () => {
      const reloaded = await readReload(config);
      await pool.reloadWorkers(reloaded);
      access = new AccessList(reloaded.access);
      return describeReload(reloaded, plan.transcript !== undefined);
    };
    await startAdmin(config, pool, {
      stats: () => pool.stats(),
      link: plan.backend.redis === undefined ? undefined : () => pool.linkHealth(),
      access: () => access,
      logger,
    });
    return pool;
  }
  let assembled;
  try {
    assembled = await assemble(plan, { local: new MemoryRegistry(limits), logger, signal, operator });
  } catch (error) {
    throw startError(error, plan);
  }
  const { server, listeners, backend, transcript, handle } = assembled;
  // SIGHUP: the access lists and the certificate again, as the files are now, and the transcript.
  server.reload = async () => await applyReload({ server, listeners, transcript }, await readReload(config));
  await startAdmin(config, handle, {
    stats: () => server.stats(),
    loopLag: server.metrics.loopLag,
    link: backend.health,
    access: () => server.access,
    logger,
  });
  return handle;
}

/**
 * With `--admin`, serves the operator's endpoint for `server` until it has finished; a server whose
 * endpoint cannot listen is shut down, and the reason is a {@linkcode StartError}.
 */
async function startAdmin(
  config: ServerConfig,
  server: ServerHandle,
  options: Pick<AdminOptions, "stats" | "loopLag" | "link" | "access" | "logger">,
): Promise<void> {
  if (config.admin === undefined) return;
  const stop = new AbortController();
  try {
    await serveAdmin({
      ...options,
      hostname: config.admin.host,
      port: config.admin.port,
      readyNeedsRedis: config.readyNeedsRedis,
      signal: stop.signal,
    });
  } catch (error) {
    await server.shutdown("the admin endpoint cannot start");
    throw listenError(error, `${formatAddress(config.admin.host, config.admin.port)} for --admin`);
  }
  // The endpoint answers until every connection is closed: /readyz says 503 while draining.
  void server.finished.finally(() => stop.abort()).catch(() => {});
}

/** What went wrong starting the server `plan` describes, as a {@linkcode StartError}. */
function startError(error: unknown, plan: ServerPlan): StartError {
  if (error instanceof StartError) return error;
  if (
    error instanceof RedisLinkError || error instanceof WorkerStartError || error instanceof TranscriptError
  ) {
    return new StartError(error.message, { cause: error });
  }
  return error instanceof WebListenError
    ? listenError(error.cause, where(plan.web!))
    : listenError(error, where(plan.listen));
}

/** What went wrong starting to listen at `place`, as a {@linkcode StartError}. */
function listenError(error: unknown, place: string): StartError {
  const reason = error instanceof TypeError ? error.message : describeNetError(error);
  return new StartError(`cannot listen on ${place}: ${reason}`, { cause: error });
}

/** How to say where a server could not listen. */
function where(spec: ListenSpec | WebListenOptions): string {
  if (!("transport" in spec)) return `${formatAddress(spec.host, spec.port)} for the web page`;
  if (spec.transport === "unix") return spec.path;
  return formatAddress(spec.host, spec.port) + (spec.transport === "tls" ? " with TLS" : "");
}
