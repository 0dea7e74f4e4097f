/**
 * The one place that chooses a server's backend, from plain settings: rooms and a ring of history
 * per room in memory for one process; the same, with BroadcastChannels to the other workers, for
 * `--workers`; or the Redis chat (`--redis`), where ids, names, rooms, lines and history are
 * shared by every server on that Redis. Admission limits are
 * always the server's own (`local`): a `MemoryRegistry`, or the workers' `SharedRegistry`.
 */

import type { Backend } from "../backend.ts";
import { MemoryHistory } from "../history/memory.ts";
import type { Logger } from "../log.ts";
import { openRedisBackend } from "../redis/mod.ts";
import type { RedisAddress } from "../redis/url.ts";
import type { Registry } from "../registry/registry.ts";
import { BroadcastChannelRelay } from "../relay/broadcast_channel.ts";
import { BroadcastChannelDirectory } from "../rooms/broadcast_channel.ts";
import { MemoryDirectory } from "../rooms/directory.ts";

/** Which backend, as plain data that can be posted to a worker. */
export interface BackendPlan {
  /** Lines of history; 0 for none. */
  history: number;
  /** The Redis that joins this server's chat to other servers', if any. */
  redis?: RedisAddress;
  /** Sessions (`--resume-window`, `--resume-buffer`): kept in Redis, if there is one. */
  sessions?: { windowMs: number; maxBytes: number };
  /** `--workers` without Redis: the name of the BroadcastChannel between the workers. */
  channel?: string;
}

/** What a backend is opened with besides its plan. */
export interface BackendContext {
  /** This server's admission limits (and, without Redis, its ids and names). */
  local: Registry;
  logger: Logger;
}

/**
 * Opens the backend `plan` describes. Rejects with a `RedisLinkError` when Redis cannot be joined.
 */
export async function openBackend(plan: BackendPlan, context: BackendContext): Promise<Backend> {
  const { local, logger } = context;
  if (plan.redis !== undefined) {
    return await openRedisBackend({
      address: plan.redis,
      history: plan.history,
      sessions: plan.sessions,
      local,
      logger,
    });
  }
  const relay = plan.channel === undefined ? undefined : new BroadcastChannelRelay(plan.channel);
  const directory = plan.channel === undefined
    ? new MemoryDirectory()
    : new BroadcastChannelDirectory(`${plan.channel}:rooms`);
  return {
    registry: local,
    directory,
    relay,
    history: plan.history > 0 ? new MemoryHistory(plan.history) : undefined,
    leave: async () => {
      await directory.close();
      await relay?.close();
    },
  };
}
