/**
 * The Redis backend (`--redis`): one chat, with its rooms, shared by several servers. Everything
 * about Redis lives in this folder and is reached from here: the link (`client_link.ts`, the only
 * module that loads `@redis/client`), the chat's keys and scripts, its ids and names (the
 * registry), the rooms' directory, the relay and the history, all on one link and one node id. They are joined in that order and left in the
 * reverse one, so that the other servers hear who left with this one before it goes.
 *
 * `lib/mod.ts` does not export this module, so that using Parley as a library does not load the
 * Redis client; import `lib/redis/mod.ts` to get it.
 */

import type { Backend } from "../backend.ts";
import type { Logger } from "../log.ts";
import type { Registry } from "../registry/registry.ts";
import { ClientLink } from "./client_link.ts";
import { RedisBans } from "./bans.ts";
import { RedisDirectory } from "./directory.ts";
import { RedisHistory } from "./history.ts";
import { describeRedisError, type RedisLink, RedisLinkError } from "./link.ts";
import { RedisRegistry } from "./registry.ts";
import { RedisRelay } from "./relay.ts";
import { RedisSessions } from "./sessions.ts";
import type { RedisAddress } from "./url.ts";

export { RedisLinkError } from "./link.ts";

/** Options for {@linkcode openRedisBackend}. */
export interface RedisBackendOptions {
  /** Where the chat's Redis is. */
  address: RedisAddress;
  /** Lines of history to keep in each room's stream; 0 for none. */
  history: number;
  /** Sessions, kept in Redis for any server to resume: the window, and the log's bound per room. */
  sessions?: { windowMs: number; maxBytes: number };
  /** This server's admission limits: they stay with the server. */
  local: Registry;
  logger: Logger;
}

/**
 * Joins the chat on the Redis `options.address`. Rejects with a {@linkcode RedisLinkError} when
 * Redis cannot be reached or refuses.
 */
export async function openRedisBackend(options: RedisBackendOptions): Promise<Backend> {
  const { address, logger } = options;
  const link = await ClientLink.open({ address, logger });
  try {
    const backend = await joinChat(link, options);
    logger.info("redis_joined", `joined the chat on ${address.shown}`, {
      redis: address.shown,
      node: link.node,
    });
    return backend;
  } catch (error) {
    await link.close();
    if (error instanceof RedisLinkError) throw error;
    throw new RedisLinkError(`cannot join the chat on ${address.shown}: ${describeRedisError(error)}`, {
      cause: error,
    });
  }
}

/**
 * The registry, directory, relay and history of the chat that `link` reaches, joined: what
 * {@linkcode openRedisBackend} serves with, and what the unit tests run over an in-memory Redis.
 * Leaving closes `link` too.
 */
export async function joinChat(
  link: RedisLink,
  options: Pick<RedisBackendOptions, "history" | "sessions" | "local" | "logger">,
): Promise<Backend> {
  const { history, sessions, local, logger } = options;
  const registry = await RedisRegistry.join(link, local, logger);
  // A log idle longer than the window (and a minute) is of no use to anyone, unless it is the history.
  const log = sessions === undefined ? undefined : {
    maxBytes: sessions.maxBytes,
    keepMs: history > 0 ? 0 : sessions.windowMs + 60_000,
    always: history > 0,
  };
  const relay = await RedisRelay.open(link, { history, log, logger });
  const directory = new RedisDirectory(link, logger);
  registry.names.whenRestored(() => directory.restore());
  return {
    registry,
    directory,
    bans: new RedisBans(link),
    relay,
    history: history > 0 ? new RedisHistory(link, relay, history, log !== undefined) : undefined,
    sessions: sessions === undefined ? undefined : new RedisSessions(link, logger, sessions.windowMs),
    health: () => ({
      up: link.up,
      outages: link.outages,
      unconfirmedBytes: relay.unconfirmed,
      roundTripSeconds: link.roundTripMs / 1000,
    }),
    async leave() {
      await directory.close();
      await registry.names.close();
      await relay.close();
      await link.close();
    },
  };
}
