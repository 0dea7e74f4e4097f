/**
 * From a command line's settings to a running server: where it listens (TCP, TLS with the given
 * certificate or a new self-signed one, a Unix socket), who may connect (allow and deny lists,
 * from flags and files), whether one accept loop or a pool of workers serves, and where a chat
 * room keeps its history and meets the rooms of other servers (Redis). Everything that can go
 * wrong here is the user's to fix, so it is said in one sentence: {@linkcode StartError} (exit 1)
 * or, for a bad list entry, {@linkcode UsageError} (exit 2).
 */

import { type ServerConfig, UsageError } from "./cli.ts";
import { RedisLinkError } from "../redis/link.ts";
import { type ChatRoom, openChatRoom, type RoomSettings } from "../redis/mod.ts";
import { MemoryRegistry } from "../registry/memory.ts";
import {
  AccessEntryError,
  AccessList,
  type AccessListOptions,
  listFileEntries,
} from "../server/access_list.ts";
import type { Logger } from "../log.ts";
import type { Operator } from "../server/operator.ts";
import { serve, type ServerHandle, type ServeSummary } from "../server/serve.ts";
import { type AdminOptions, serveAdmin } from "../server/admin.ts";
import { fingerprint, pemToDer, selfSignedCertificate } from "../transport/certificate.ts";
import { listen, type ListenSpec } from "../transport/listen.ts";
import { describeNetError, formatAddress } from "../util/net.ts";
import type { Listener } from "../transport/transport.ts";
import { listenWeb, WebListenError, type WebListenOptions } from "../web/listener.ts";
import { serveWorkers, WorkerStartError } from "./workers/pool.ts";

/** The server cannot start; the message is one sentence for the user. */
export class StartError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StartError";
  }
}

/** Options for {@linkcode startServer}. */
export interface StartOptions {
  logger: Logger;
  /** Aborting it shuts the server down. */
  signal: AbortSignal;
  /** Console mode's operator, if any. */
  operator?: Operator;
}

async function readFile(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new StartError(`cannot read the ${what} ${path}: ${describeNetError(error)}`, { cause: error });
  }
}

/** The `--allow` and `--deny` entries of the flags and of the files they name. */
async function accessEntries(config: ServerConfig): Promise<AccessListOptions> {
  const fromFiles = async (paths: string[], flag: string) => {
    const entries: string[] = [];
    for (const path of paths) {
      const text = await readFile(path, `${flag} file`);
      try {
        new AccessList({ allow: listFileEntries(text) });
      } catch (error) {
        if (error instanceof AccessEntryError) throw new UsageError(`${flag} ${path}: ${error.message}`);
        throw error;
      }
      entries.push(...listFileEntries(text));
    }
    return entries;
  };
  return {
    allow: [...config.allow, ...await fromFiles(config.allowFile, "--allow-file")],
    deny: [...config.deny, ...await fromFiles(config.denyFile, "--deny-file")],
  };
}

/** Where to listen: a Unix socket, TLS (with the certificate given, or a new one), or TCP. */
async function listenSpec(config: ServerConfig): Promise<ListenSpec> {
  if (config.unix !== undefined) return { transport: "unix", path: config.unix, mode: config.unixMode };
  const tcp = { host: config.host, port: config.port, backlog: config.backlog };
  if (!config.tls) return { transport: "tcp", ...tcp };
  if (config.tlsCert === undefined || config.tlsKey === undefined) {
    const hosts = [config.host, ...(config.web === undefined ? [] : [config.web.host])];
    return { transport: "tls", ...tcp, ...await selfSignedCertificate({ hosts }) };
  }
  const cert = await readFile(config.tlsCert, "TLS certificate");
  const key = await readFile(config.tlsKey, "TLS key");
  let der;
  try {
    der = pemToDer(cert);
  } catch {
    throw new StartError(`cannot use the TLS certificate ${config.tlsCert}: it holds no PEM certificate`);
  }
  return { transport: "tls", ...tcp, cert, key, fingerprint: await fingerprint(der) };
}

/** Where browsers connect (`--web`): TLS too when the server has it. */
function webSpec(config: ServerConfig, spec: ListenSpec): WebListenOptions | undefined {
  if (config.web === undefined) return undefined;
  const { cert, key, fingerprint } = spec.transport === "tls" ? spec : {};
  return {
    ...config.web,
    backlog: config.backlog,
    tls: cert === undefined ? undefined : { cert, key: key!, fingerprint: fingerprint! },
    maxLine: config.maxLine,
    origins: config.webOrigin,
    hosts: config.webHost,
  };
}

/** How to say where a server could not listen. */
function where(spec: ListenSpec | WebListenOptions): string {
  if (!("transport" in spec)) return `${formatAddress(spec.host, spec.port)} for the web page`;
  if (spec.transport === "unix") return spec.path;
  return formatAddress(spec.host, spec.port) + (spec.transport === "tls" ? " with TLS" : "");
}

/** Starts the server `config` describes: one accept loop, or a pool of workers. */
export async function startServer(config: ServerConfig, options: StartOptions): Promise<ServerHandle> {
  const { logger, signal, operator } = options;
  const { mode, maxLine, maxQueue, drainTimeout, idleTimeout, lineTimeout, handshakeTimeout } = config;
  const settings = { mode, maxLine, maxQueue, drainTimeout, idleTimeout, lineTimeout, handshakeTimeout };
  const limits = { maxConns: config.maxConns, maxConnsPerIp: config.maxConnsPerIp };
  const redis = config.redis && config.redisCa !== undefined
    ? { ...config.redis, ca: await readFile(config.redisCa, "Redis CA certificate") }
    : config.redis;
  const room: RoomSettings = { history: config.history, redis, room: config.room };
  const access = await accessEntries(config);
  const spec = await listenSpec(config);
  const web = webSpec(config, spec);
  if (config.workers > 1 && spec.transport !== "unix") {
    try {
      const log = { format: config.log, quiet: config.quiet, level: config.logLevel };
      const pool = await serveWorkers({
        workers: config.workers,
        listen: spec,
        web,
        access,
        settings,
        limits,
        room,
        log,
        logger,
        signal,
        admin: config.admin !== undefined,
      });
      await startAdmin(config, pool, {
        stats: () => pool.stats(),
        link: room.redis === undefined ? undefined : () => pool.linkHealth(),
        access: () => new AccessList(access),
        logger,
        leave: () => Promise.resolve(),
      });
      return pool;
    } catch (error) {
      if (error instanceof StartError) throw error;
      throw error instanceof WebListenError
        ? startError(error.cause, where(web!))
        : startError(error, where(spec));
    }
  }
  let chat: ChatRoom;
  try {
    chat = await openChatRoom(room, { local: new MemoryRegistry(limits), logger });
  } catch (error) {
    if (error instanceof RedisLinkError) throw new StartError(error.message, { cause: error });
    throw error;
  }
  const listeners: Listener[] = [];
  try {
    listeners.push(await listen(spec));
    if (web !== undefined) listeners.push(await listenWeb(web));
  } catch (error) {
    for (const listener of listeners) listener.close();
    await chat.leave();
    throw error instanceof WebListenError
      ? startError(error.cause, where(web!))
      : startError(error, where(spec));
  }
  let accessList = new AccessList(access);
  const server = serve(listeners, {
    ...settings,
    registry: chat.registry,
    relay: chat.relay,
    history: chat.history,
    access: accessList,
    logger,
    signal,
    operator,
  });
  // SIGHUP: the access lists again, from the flags and the files as they are now; all or nothing.
  server.reload = async () => {
    let entries: AccessListOptions;
    try {
      entries = await accessEntries(config);
    } catch (error) {
      throw new Error(error instanceof Error ? error.message : String(error));
    }
    accessList = new AccessList(entries);
    server.setAccess(accessList);
    const count = (entries.allow?.length ?? 0) + (entries.deny?.length ?? 0);
    return `reloaded the access lists (${count} ${count === 1 ? "entry" : "entries"})`;
  };
  await startAdmin(config, server, {
    stats: () => server.stats(),
    loopLag: server.metrics.loopLag,
    link: chat.link,
    access: () => accessList,
    logger,
    leave: chat.leave,
  });
  return room.redis === undefined ? server : leavingAfter(server, chat.leave);
}

/**
 * With `--admin`, serves the operator's endpoint for `server` until it has finished; a server whose
 * endpoint cannot listen is shut down, and the reason is a {@linkcode StartError}.
 */
async function startAdmin(
  config: ServerConfig,
  server: ServerHandle,
  options: Pick<AdminOptions, "stats" | "loopLag" | "link" | "access" | "logger"> & {
    leave: () => Promise<void>;
  },
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
    await options.leave();
    throw startError(error, `${formatAddress(config.admin.host, config.admin.port)} for --admin`);
  }
  // The endpoint answers until every connection is closed: /readyz says 503 while draining.
  void server.finished.finally(() => stop.abort()).catch(() => {});
}

/** What went wrong starting to listen at `place`, as a {@linkcode StartError}. */
function startError(error: unknown, place: string): StartError {
  if (error instanceof WorkerStartError) return new StartError(error.message, { cause: error });
  const reason = error instanceof TypeError ? error.message : describeNetError(error);
  return new StartError(`cannot listen on ${place}: ${reason}`, { cause: error });
}

/** `server`, which has finished only once it has also left the room it shared through Redis. */
function leavingAfter(server: ServerHandle, leave: () => Promise<void>): ServerHandle {
  const finished: Promise<ServeSummary> = server.finished.finally(leave);
  return {
    addr: server.addr,
    finished,
    stats: server.stats?.bind(server),
    reload: server.reload?.bind(server),
    shutdown(reason) {
      void server.shutdown(reason).catch(() => {/* reported by finished */});
      return finished;
    },
    async [Symbol.asyncDispose]() {
      await this.shutdown();
    },
  };
}
