/**
 * The seam between the Redis backend and Redis: what the names, ids, relay and history of a room
 * need of a link to the room's Redis, and no more. `client_link.ts` is the link over the network
 * (the only module that loads `@redis/client`); the unit tests give the same pieces an in-memory
 * Redis that runs the same scripts, by name, in TypeScript.
 */

import type { Buffer } from "node:buffer";
import type { ChatKeys } from "./keys.ts";
import type { RedisScript } from "./scripts.ts";

/** What can go into a command: text, or bytes as they are. */
export type RedisArgument = string | Buffer;

/** One server's (one worker's) link to the room's Redis. */
export interface RedisLink {
  /** This server's name in the room: new at every start. */
  readonly node: string;
  readonly keys: ChatKeys;
  /** Where Redis is, without a password. */
  readonly shown: string;
  /**
   * Whether rooms' channels use sharded pub/sub (`SPUBLISH`, `SSUBSCRIBE`): on a Redis Cluster,
   * where a room's lines then stay on the node that holds its slot.
   */
  readonly sharded: boolean;
  /** Whether Redis answers now. */
  readonly up: boolean;
  /** How many times the link went down. */
  readonly outages: number;
  /** The last liveness probe's round trip, in milliseconds. */
  readonly roundTripMs: number;
  /** Sends one command; commands and scripts run in the order they are sent. */
  send<T>(args: RedisArgument[]): Promise<T>;
  /** Runs `script` with `keys` and `args`. */
  run<T>(script: RedisScript, keys: string[], args: RedisArgument[]): Promise<T>;
  /**
   * Calls `listener` with every message published on `channel` (`SPUBLISH`ed, if `sharded`), as
   * bytes; survives reconnects.
   */
  subscribe(channel: string, listener: (message: Buffer) => void, sharded?: boolean): Promise<void>;
  /** Stops listening to `channel`. */
  unsubscribe(channel: string, sharded?: boolean): Promise<void>;
  /** From now on, `watcher` hears when the link goes down (`false`) and comes back (`true`). */
  watch(watcher: (up: boolean) => void): void;
  /** Leaves: what was sent is answered first. */
  close(): Promise<void>;
}

/** Joining the room failed; the message is one sentence for the user. */
export class RedisLinkError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisLinkError";
  }
}

/** A Redis client's error in plain words. */
export function describeRedisError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  if (/^WRONGPASS/.test(message)) return "wrong user name or password";
  if (/^NOAUTH/.test(message)) return "Redis wants a password (redis://user:pass@host:port)";
  if (code === "ECONNREFUSED" || /ECONNREFUSED|Connection refused/i.test(message)) {
    return "connection refused";
  }
  if (code === "ENOTFOUND" || /ENOTFOUND|failed to lookup/i.test(message)) return "unknown host";
  if (/timeout/i.test(message)) return "timed out";
  // Redis's own errors (LOADING, OOM, ...) are one line already.
  return message.split("\n")[0];
}
