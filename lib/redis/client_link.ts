/**
 * One server's link to the Redis that joins its chat room to the rooms of other servers: two
 * connections (commands, and a subscriber, which Redis's pub/sub needs to itself), the names of
 * the room's keys, and whether the link is up.
 *
 * Joining fails fast: an unreachable Redis, a refused password or a TLS failure is one sentence
 * naming the URL ({@linkcode RedisLinkError}). Once joined, a lost connection is retried for as
 * long as the server runs, with a growing, jittered back-off; commands sent while it is down fail
 * at once instead of queueing (nothing said during an outage is replayed later), and whoever
 * watches the link is told once when it goes down and once when it is back.
 *
 * A Redis that stops answering without closing anything (a paused VM, a long fork, a path that
 * drops packets) is down too: every {@linkcode PROBE_MS} the link publishes a probe on a channel
 * only its own subscriber hears, so one round trip proves both connections, and when no probe has
 * come back for {@linkcode SILENT_MS} the link counts as down, exactly as if the connection had
 * been refused. It is up again once a probe comes back. No command waits longer than
 * {@linkcode COMMAND_TIMEOUT_MS}.
 *
 * Behind Sentinel (`redis+sentinel://`), each connection asks the sentinels which server is the
 * primary, and follows a failover by itself; to the room a failover is a short outage.
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { createClient, createCluster, createSentinel } from "@redis/client";
import type { Logger } from "../log.ts";
import { backoffDelay } from "../util/backoff.ts";
import { type ChatKeys, chatKeys } from "./keys.ts";
import { describeRedisError, type RedisArgument, type RedisLink, RedisLinkError } from "./link.ts";
import type { RedisScript } from "./scripts.ts";
import type { RedisAddress } from "./url.ts";

/**
 * One connection to the room's Redis, whether to a server named in the URL or to the primary that
 * Sentinel names: what the link needs of it, and no more.
 */
interface Connection {
  connect(): Promise<unknown>;
  send<T>(args: RedisArgument[]): Promise<T>;
  subscribe(channel: string, listener: (message: Buffer) => void, sharded?: boolean): Promise<unknown>;
  unsubscribe(channel: string, sharded?: boolean): Promise<unknown>;
  on(event: "error" | "reconnecting" | "end" | "ready", listener: (error: unknown) => void): unknown;
  close(): Promise<unknown>;
  destroy(): unknown;
}

/** Options for {@linkcode ClientLink.open}. */
export interface RedisLinkOptions {
  address: RedisAddress;
  logger: Logger;
  /** Give up joining after this long. @default {5000} */
  connectTimeoutMs?: number;
}

/** How often the link checks that Redis answers. */
export const PROBE_MS = 500;
/** How long without an answer counts as down: a stall is noticed within this and one probe. */
export const SILENT_MS = 2000;
/** The longest any command waits for its reply. */
export const COMMAND_TIMEOUT_MS = 3000;

/** After a lost connection: 100 ms, doubling, at most 5 s, with jitter. */
const RECONNECT_BACKOFF = { initialMs: 100, maxMs: 5000, random: Math.random };

/** The link of one server (one worker) to the room's Redis. */
export class ClientLink implements RedisLink {
  /** This server's name in the room: new at every start. */
  readonly node: string = crypto.randomUUID();
  readonly keys: ChatKeys;
  /** Where Redis is, without a password. */
  readonly shown: string;
  readonly sharded: boolean;
  #logger: Logger;
  #commands: Connection;
  #subscriber: Connection;
  /** Whether each connection is ready: [commands, subscriber]. */
  #ready = [false, false];
  #up = false;
  #joined = false;
  #closing = false;
  #downSince = 0;
  #lastError = "";
  /** Whether a probe came back within {@linkcode SILENT_MS}; when the last one did. */
  #answering = true;
  #lastAnswer = performance.now();
  #prober: ReturnType<typeof setInterval> | undefined;
  #probeSentAt = 0;
  #roundTripMs = 0;
  #outages = 0;
  #watchers = new Set<(up: boolean) => void>();
  /** The SHA-1 of each script run so far. */
  #shas = new Map<RedisScript, string>();

  private constructor(options: RedisLinkOptions) {
    this.keys = chatKeys();
    this.shown = options.address.shown;
    this.sharded = options.address.cluster !== undefined;
    this.#logger = options.logger;
    // Joining fails at once; once joined, a lost connection is retried for good.
    const retry = (retries: number) =>
      this.#joined && !this.#closing ? backoffDelay(retries + 1, RECONNECT_BACKOFF) : false;
    this.#commands = connection(options, retry);
    this.#subscriber = connection(options, retry);
    this.#watch(this.#commands, 0);
    this.#watch(this.#subscriber, 1);
  }

  /**
   * Connects to the Redis at `options.address`. Rejects with a
   * {@linkcode RedisLinkError} when it cannot.
   */
  static async open(options: RedisLinkOptions): Promise<ClientLink> {
    const link = new ClientLink(options);
    try {
      await link.#commands.connect();
      await link.#subscriber.connect();
    } catch (error) {
      link.#closing = true;
      link.#commands.destroy();
      link.#subscriber.destroy();
      throw new RedisLinkError(`cannot join the chat on ${link.shown}: ${describeRedisError(error)}`, {
        cause: error,
      });
    }
    link.#joined = true;
    link.#up = true;
    await link.#subscriber.subscribe(link.keys.probe(link.node), () => link.#answered());
    link.#answering = true;
    link.#lastAnswer = performance.now();
    link.#prober = setInterval(() => link.#probe(), PROBE_MS);
    return link;
  }

  /** Whether both connections are up. */
  get up(): boolean {
    return this.#up;
  }

  /** How many times the link went down. */
  get outages(): number {
    return this.#outages;
  }

  /** The last probe's round trip, in milliseconds. */
  get roundTripMs(): number {
    return this.#roundTripMs;
  }

  /** Sends one command; commands and scripts run in the order they are sent. */
  send<T>(args: RedisArgument[]): Promise<T> {
    return this.#commands.send<T>(args);
  }

  /**
   * Calls `listener` with every message published on `channel`, as bytes. Subscriptions survive
   * reconnects.
   */
  async subscribe(channel: string, listener: (message: Buffer) => void, sharded = false): Promise<void> {
    await this.#subscriber.subscribe(channel, listener, sharded);
  }

  async unsubscribe(channel: string, sharded = false): Promise<void> {
    await this.#subscriber.unsubscribe(channel, sharded);
  }

  /**
   * Runs `script` with `keys` and `args`: by its SHA-1 (Redis keeps the scripts it ran), and, where
   * Redis does not know it (restarted, flushed, a node of a cluster new to it), by its text. The
   * retries go in the order the refusals come back, so scripts keep the order they were sent in.
   */
  run<T>(script: RedisScript, keys: string[], args: RedisArgument[]): Promise<T> {
    let sha = this.#shas.get(script);
    if (sha === undefined) this.#shas.set(script, sha = createHash("sha1").update(script.lua).digest("hex"));
    const rest = [String(keys.length), ...keys, ...args];
    return this.#commands.send<T>(["EVALSHA", sha, ...rest]).catch((error) => {
      if (!String(error).includes("NOSCRIPT")) throw error;
      return this.#commands.send<T>(["EVAL", script.lua, ...rest]);
    });
  }

  /** From now on, `watcher` hears when the link goes down (`false`) and comes back (`true`). */
  watch(watcher: (up: boolean) => void): void {
    this.#watchers.add(watcher);
  }

  /** Leaves: both connections close after the replies they wait for. */
  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#prober);
    this.#watchers.clear();
    await Promise.allSettled([this.#commands.close(), this.#subscriber.close()]);
    // A connection that was down has nothing to wait for; make sure no retry timer outlives us.
    this.#commands.destroy();
    this.#subscriber.destroy();
  }

  #watch(client: Connection, index: number): void {
    client.on("error", (error: unknown) => {
      this.#lastError = describeRedisError(error);
      this.#set(index, false);
    });
    client.on("reconnecting", () => this.#set(index, false));
    client.on("end", () => this.#set(index, false));
    client.on("ready", () => this.#set(index, true));
  }

  /** Sends a probe, and counts the link as down when none came back for {@linkcode SILENT_MS}. */
  #probe(): void {
    if (!this.#ready[0] || !this.#ready[1]) return;
    this.#probeSentAt = performance.now();
    this.#commands.send(["PUBLISH", this.keys.probe(this.node), "1"]).catch(
      () => {/* the silence tells */},
    );
    if (this.#answering && performance.now() - this.#lastAnswer > SILENT_MS) {
      this.#answering = false;
      this.#lastError = `no answer for ${SILENT_MS / 1000} s`;
      this.#update();
    }
  }

  #answered(): void {
    this.#lastAnswer = performance.now();
    this.#roundTripMs = this.#lastAnswer - this.#probeSentAt;
    if (this.#answering) return;
    this.#answering = true;
    this.#update();
  }

  #set(index: number, ready: boolean): void {
    const wasReady = this.#ready[0] && this.#ready[1];
    this.#ready[index] = ready;
    // Connections made anew count once a probe has gone round them both: a subscriber still on a
    // failed primary, or one not subscribed again yet, would otherwise make the link flap.
    if (!wasReady && this.#ready[0] && this.#ready[1]) {
      this.#answering = false;
      this.#probe();
    }
    this.#update();
  }

  #update(): void {
    if (!this.#joined || this.#closing) return;
    const up = this.#ready[0] && this.#ready[1] && this.#answering;
    if (up === this.#up) return;
    this.#up = up;
    if (!up) {
      this.#outages++;
      this.#downSince = Date.now();
      this.#logger.warn(
        "redis_down",
        `lost the link to Redis at ${this.shown} (${this.#lastError || "connection closed"}); ` +
          "serving this server's room only, reconnecting",
        { redis: this.shown, error: this.#lastError },
      );
    } else {
      const seconds = (Date.now() - this.#downSince) / 1000;
      this.#logger.info("redis_up", `link to Redis at ${this.shown} is back after ${seconds.toFixed(1)} s`, {
        redis: this.shown,
        downSeconds: seconds,
      });
    }
    for (const watcher of this.#watchers) watcher(up);
  }
}

/**
 * A connection that fails commands at once while disconnected, and reconnects as `retry` says: to
 * the server in the URL, or to the primary the sentinels name.
 */
function connection(options: RedisLinkOptions, retry: (retries: number) => number | false): Connection {
  const { address } = options;
  const socket = {
    connectTimeout: options.connectTimeoutMs ?? 5000,
    reconnectStrategy: retry,
    ...(address.ca === undefined && !address.tls
      ? {}
      : { tls: true as const, ca: address.ca ? [address.ca] : undefined }),
  };
  if (address.cluster !== undefined) return clusterConnection(address, socket);
  if (address.sentinel === undefined) {
    const client = createClient({
      url: address.url,
      disableOfflineQueue: true,
      commandOptions: { timeout: COMMAND_TIMEOUT_MS },
      socket,
    });
    return {
      connect: () => client.connect(),
      send: <T>(args: RedisArgument[]) => client.sendCommand<T>(args),
      subscribe: (channel, listener) => client.subscribe(channel, listener, true),
      unsubscribe: (channel) => client.unsubscribe(channel),
      on: (event, listener) => client.on(event, listener),
      close: () => client.close(),
      destroy: () => client.destroy(),
    };
  }
  const { name, nodes, username, password } = address.sentinel;
  const sentinel = createSentinel({
    name,
    sentinelRootNodes: nodes,
    // How often the sentinels are asked who the primary is, besides when a connection fails.
    scanInterval: 1000,
    commandOptions: { timeout: COMMAND_TIMEOUT_MS },
    nodeClientOptions: { username, password, disableOfflineQueue: true, socket },
    sentinelClientOptions: { socket: { connectTimeout: socket.connectTimeout } },
  });
  return {
    connect: () => sentinel.connect(),
    send: <T>(args: RedisArgument[]) => sentinel.sendCommand<T>(false, args),
    subscribe: (channel, listener) => sentinel.subscribe(channel, listener, true),
    unsubscribe: (channel) => sentinel.unsubscribe(channel),
    on: (event, listener) => sentinel.on(event, listener),
    close: () => sentinel.close(),
    destroy: () => sentinel.destroy(),
  };
}

/**
 * A connection to a Redis Cluster: the client finds every node from those named and sends each
 * command to the node that holds its first key (a script's first key). Its nodes come and go
 * without one event for the whole; the link's probe tells whether the cluster answers.
 */
function clusterConnection(address: RedisAddress, socket: Record<string, unknown>): Connection {
  const { nodes, username, password } = address.cluster!;
  const scheme = address.tls ? "rediss" : "redis";
  const cluster = createCluster({
    rootNodes: nodes.map(({ host, port }) => ({
      url: `${scheme}://${host.includes(":") ? `[${host}]` : host}:${port}`,
    })),
    defaults: { username, password, disableOfflineQueue: true, socket },
    commandOptions: { timeout: COMMAND_TIMEOUT_MS },
  });
  return {
    connect: () => cluster.connect(),
    send: <T>(args: RedisArgument[]) => cluster.sendCommand<T>(routingKey(args), false, args),
    subscribe: (channel, listener, sharded) =>
      sharded ? cluster.sSubscribe(channel, listener, true) : cluster.subscribe(channel, listener, true),
    unsubscribe: (channel, sharded) => sharded ? cluster.sUnsubscribe(channel) : cluster.unsubscribe(channel),
    on: (event, listener) => {
      // The whole is ready once connected, and ends when closed; a node's trouble is the probe's to see.
      if (event === "ready") cluster.on("connect", listener);
      else if (event === "end") cluster.on("disconnect", listener);
      else if (event === "error") cluster.on("error", () => {/* the probe tells */});
    },
    close: () => cluster.close(),
    destroy: () => cluster.destroy(),
  };
}

/** The key that decides which node a command goes to: a script's first key, or the first argument. */
function routingKey(args: RedisArgument[]): RedisArgument | undefined {
  const name = String(args[0]).toUpperCase();
  if (name === "EVAL" || name === "EVALSHA") return Number(args[2]) > 0 ? args[3] : undefined;
  return args[1];
}
