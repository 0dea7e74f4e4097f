/**
 * The Redis backend (`--redis`): one room shared by several servers. Everything about Redis lives
 * in this folder and is reached from here: the link (`client_link.ts`, the only module that loads
 * `@redis/client`), the room's keys and scripts, its ids and names (the registry), the relay and
 * the history, all on one link and one node id. They are joined in that order and left in the
 * reverse one, so that the other servers hear who left with this one before it goes.
 *
 * `lib/mod.ts` does not export this module, so that using Parley as a library does not load the
 * Redis client; import `lib/redis/mod.ts` to get it.
 */

import type { Backend } from "../backend.ts";
import type { Logger } from "../log.ts";
import type { Registry } from "../registry/registry.ts";
import { ClientLink } from "./client_link.ts";
import { RedisHistory } from "./history.ts";
import { describeRedisError, type RedisLink, RedisLinkError } from "./link.ts";
import { RedisRegistry } from "./registry.ts";
import { RedisRelay } from "./relay.ts";
import type { RedisAddress } from "./url.ts";

export { RedisLinkError } from "./link.ts";

/** Options for {@linkcode openRedisBackend}. */
export interface RedisBackendOptions {
  /** Where the room's Redis is. */
  address: RedisAddress;
  /** The room's name on that Redis (`--room`). */
  room: string;
  /** Lines of history to keep in the room's stream; 0 for none. */
  history: number;
  /** This server's admission limits: they stay with the server. */
  local: Registry;
  logger: Logger;
}

/**
 * Joins the room `options.room` on the Redis `options.address`. Rejects with a
 * {@linkcode RedisLinkError} when Redis cannot be reached or refuses.
 */
export async function openRedisBackend(options: RedisBackendOptions): Promise<Backend> {
  const { address, room, logger } = options;
  const link = await ClientLink.open({ address, room, logger });
  try {
    const backend = await joinRoom(link, options);
    logger.info("redis_joined", `joined room ${room} on ${address.shown}`, {
      room,
      redis: address.shown,
      node: link.node,
    });
    return backend;
  } catch (error) {
    await link.close();
    if (error instanceof RedisLinkError) throw error;
    throw new RedisLinkError(`cannot join the room on ${address.shown}: ${describeRedisError(error)}`, {
      cause: error,
    });
  }
}

/**
 * The registry, relay and history of the room that `link` reaches, joined: what
 * {@linkcode openRedisBackend} serves with, and what the unit tests run over an in-memory Redis.
 * Leaving closes `link` too.
 */
export async function joinRoom(
  link: RedisLink,
  options: Pick<RedisBackendOptions, "history" | "local" | "logger">,
): Promise<Backend> {
  const { history, local, logger } = options;
  const registry = await RedisRegistry.join(link, local, logger);
  const relay = await RedisRelay.open(link, { history, logger });
  return {
    registry,
    relay,
    history: history > 0 ? new RedisHistory(link, relay, history) : undefined,
    health: () => ({
      up: link.up,
      outages: link.outages,
      unconfirmedBytes: relay.unconfirmed,
      roundTripSeconds: link.roundTripMs / 1000,
    }),
    async leave() {
      await registry.names.close();
      await relay.close();
      await link.close();
    },
  };
}
