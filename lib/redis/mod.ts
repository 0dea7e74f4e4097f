/**
 * What a chat room is served with: a registry, a relay and a history. A room of one server keeps
 * its history in a ring in memory; a room shared through Redis gets all three from its place
 * there: the link, the registry of ids and names, and the relay (which keeps the history), joined
 * in that order and left in the reverse one, so that the other servers hear who left with this
 * one before it goes.
 */

import type { Registry } from "../registry/registry.ts";
import type { Relay } from "../relay/relay.ts";
import { type History, MemoryHistory } from "../history/history.ts";
import { RedisRegistry } from "./registry.ts";
import { RedisRelay } from "./relay.ts";
import type { Logger } from "../log.ts";
import type { LinkHealth } from "../server/metrics.ts";
import { describeRedisError, RedisLink, RedisLinkError } from "./link.ts";
import type { RedisAddress } from "./url.ts";

/** Where a chat room keeps what was said, and how it meets the rooms of other servers. */
export interface RoomSettings {
  /** Lines of history; 0 for none. */
  history: number;
  /** The Redis that joins this room to other servers' rooms, if any. */
  redis?: RedisAddress;
  /** The room's name on that Redis. */
  room: string;
}

/** What a chat room is served with. */
export interface ChatRoom {
  registry: Registry;
  relay?: Relay;
  history?: History;
  /** Leaves the room shared through Redis, if any; call it once the server has finished. */
  leave(): Promise<void>;
  /** With Redis: the link's state now, for `/metrics` and `/readyz`. */
  link?(): LinkHealth;
}

/**
 * The registry, relay and history a server (or one worker) serves its room with: `local` and a
 * ring of history, or all three from the room shared through Redis. Rejects with a
 * `RedisLinkError` when Redis cannot be joined.
 */
export async function openChatRoom(settings: RoomSettings, context: RoomContext): Promise<ChatRoom> {
  const { redis } = settings;
  if (redis === undefined) {
    const history = settings.history > 0 ? new MemoryHistory(settings.history) : undefined;
    return { registry: context.local, history, leave: () => Promise.resolve() };
  }
  return await joinRedisRoom({ ...settings, redis }, context);
}

/** What a room is opened with besides its settings. */
export interface RoomContext {
  /** This server's admission limits (and, without Redis, its ids and names). */
  local: Registry;
  logger: Logger;
}

/**
 * Joins the room `settings.room` on the Redis `settings.redis`. Rejects with a `RedisLinkError`
 * when Redis cannot be reached or refuses.
 */
async function joinRedisRoom(
  settings: RoomSettings & { redis: RedisAddress },
  context: RoomContext,
): Promise<ChatRoom> {
  const { room, history, redis: address } = settings;
  const { local, logger } = context;
  const link = await RedisLink.open({ address, room, logger });
  try {
    const registry = await RedisRegistry.join(link, local, logger);
    const relay = await RedisRelay.open(link, { history, logger });
    logger.info("redis_joined", `joined room ${room} on ${address.shown}`, {
      room,
      redis: address.shown,
      node: link.node,
    });
    return {
      registry,
      relay,
      history: history > 0 ? relay : undefined,
      link: () => ({
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
  } catch (error) {
    await link.close();
    if (error instanceof RedisLinkError) throw error;
    throw new RedisLinkError(`cannot join the room on ${address.shown}: ${describeRedisError(error)}`, {
      cause: error,
    });
  }
}
