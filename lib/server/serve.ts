/**
 * The server: an accept loop per listener it is given, one concurrent task per connection, and
 * graceful shutdown.
 *
 * Like mini-redis's `run(listener, shutdown)`, it never listens itself: the caller owns the
 * listeners and the abort signal, so the CLI, the workers, the tests (port 0) and every transport
 * share this code. It also never picks a registry or a relay: one process passes a
 * `MemoryRegistry`, the workers a shared one. The handle has the shape of `Deno.serve`'s: `addr`,
 * `finished`, `shutdown()`, and `await using` shuts it down.
 *
 * The loops never await a connection, and nothing a connection does can reach them: each
 * connection turns every way of ending into a close reason. Accept errors (EMFILE, ECONNABORTED,
 * ...) are logged once per burst and retried after a back-off that doubles up to one second; only
 * shutdown ends a loop.
 */

import type { History } from "../history/history.ts";
import type { Logger } from "../log.ts";
import { SHUTTING_DOWN } from "../protocol/goodbye.ts";
import type { Registry } from "../registry/registry.ts";
import type { Relay } from "../relay/relay.ts";
import type { Directory } from "../rooms/directory.ts";
import type { BanStore, SessionStore, StoredBan } from "../backend.ts";
import { type Listener, type Stream, transportOf } from "../transport/transport.ts";
import { backoffDelay } from "../util/backoff.ts";
import { closeQuietly } from "../util/close_quietly.ts";
import { delay } from "../util/delay.ts";
import { describeNetError, formatAddr } from "../util/net.ts";
import { count } from "../util/plural.ts";
import { type AccessList, Bans } from "./access_list.ts";
import { Door } from "./admit.ts";
import { type CloseReason, isViolation } from "./close_reason.ts";
import { Congestion } from "./congestion.ts";
import { Connection, type ConnectionSettings } from "./connection.ts";
import { Clock } from "./deadlines.ts";
import { describeMetrics, ServerMetrics } from "./metrics.ts";
import { createMode, type Mode, type ModeName } from "./modes/mod.ts";
import type { Operator } from "./operator.ts";
import { BufferPool } from "./output_queue.ts";
import { Members } from "./members.ts";
import type { RateLimit } from "./rate.ts";
import { Rounds } from "./rounds.ts";
import type { Transcript } from "./transcript.ts";
import { describeSummary, emptyStats, emptySummary, type ServerStats, type ServeSummary } from "./summary.ts";

export {
  addSummary,
  describeSummary,
  emptyStats,
  emptySummary,
  type ServerStats,
  type ServeSummary,
} from "./summary.ts";

/** How a server treats its clients: plain values, the same in every worker. */
export interface ServeSettings {
  /** @default {"console"} */
  mode?: ModeName;
  /** Longest line accepted from a client, in bytes. @default {65536} */
  maxLine?: number;
  /** Bytes that may wait for a client before it is dropped. @default {1048576} */
  maxQueue?: number;
  /** How long shutdown waits for queued lines to be flushed, in seconds. @default {5} */
  drainTimeout?: number;
  /** Seconds a client may stay silent; 0 for no limit. @default {0} */
  idleTimeout?: number;
  /** Seconds a client may take to finish a line it started; 0 for no limit. @default {30} */
  lineTimeout?: number;
  /** Seconds a connection may take to finish its TLS handshake. @default {10} */
  handshakeTimeout?: number;
  /** Flood control: how fast each client may send lines (`--rate`). @default {no limit} */
  rate?: RateLimit;
  /** Seconds a client may stay over `rate` before it is closed; 0 for never. @default {0} */
  rateKick?: number;
  /** Chat mode: the room every client starts in (`--room`). @default {"#parley"} */
  room?: string;
  /** Chat mode: most rooms at once (`--max-rooms`). @default {1000} */
  maxRooms?: number;
  /** Chat mode: seconds a dropped session may come back within (`--resume-window`); 0: none. @default {0} */
  resumeWindow?: number;
  /** Chat mode: bytes of numbered lines each room keeps for clients that come back. @default {1048576} */
  resumeBuffer?: number;
  /** Chat mode: why sessions cannot be kept here, if they cannot (`/session` says it). */
  sessionsOff?: string;
}

/** Options for {@linkcode serve}. */
export interface ServeOptions extends ServeSettings {
  logger: Logger;
  /** Ids, admission limits and chat names. */
  registry: Registry;
  /** Chat mode: the link to rooms served elsewhere. The caller closes it after `finished`. */
  relay?: Relay;
  /** Chat mode: the last lines said, sent to each newcomer first. */
  history?: History;
  /** Chat mode: the rooms across the chat. The caller closes it after `finished`. */
  directory?: Directory;
  /** Chat mode: the operator's bans in force when it starts (from `banStore`). */
  bans?: StoredBan[];
  /** Chat mode: where the operator's bans are kept for servers that start later. */
  banStore?: BanStore;
  /** Chat mode: where sessions outlive this server (Redis), if anywhere. */
  sessionStore?: SessionStore;
  /** Chat mode: where every line said is written down (`--transcript`). The caller closes it. */
  transcript?: Transcript;
  /** Aborting it shuts the server down; its reason (a string) is logged. */
  signal?: AbortSignal;
  /** Console mode reads commands from and prints the conversation to the operator. */
  operator?: Operator;
  /** Who may connect: others are closed before a byte is read. By default, everyone. */
  access?: AccessList;
}

/** A running server, however it runs: one accept loop, or a pool of workers. */
export interface ServerHandle extends AsyncDisposable {
  /** Where it listens (its first listener), with the real port. */
  readonly addr: Deno.Addr;
  /** Resolves once the server has shut down and every connection is closed. */
  readonly finished: Promise<ServeSummary>;
  /**
   * Stops accepting, tells every client `* server shutting down`, flushes what is queued (for at
   * most the drain timeout) and closes everything. Resolves like `finished`.
   */
  shutdown(reason?: string): Promise<ServeSummary>;
  /** What it counts and what can be read off it now, for `/metrics`; absent where not kept. */
  stats?(): ServerStats | Promise<ServerStats>;
  /**
   * Reads its settings again (SIGHUP): what can change without a restart changes for the
   * connections that come next; resolves with a sentence saying what was reloaded. Rejects, with
   * the settings unchanged, when anything fails. Absent where nothing can be reloaded.
   */
  reload?(): Promise<string>;
}

/** After accept errors: 5 ms, doubling, at most one second. */
const ACCEPT_BACKOFF = { initialMs: 5, maxMs: 1000 };

/** How often timeouts are checked: a tenth of the shortest, between 50 ms and 1 s. */
function sweepInterval(timeoutsMs: number[]): number {
  return Math.min(1000, Math.max(50, Math.min(...timeoutsMs) / 10));
}

/** Starts serving the connections that `listeners` accept. */
export function serve(listeners: Listener | Listener[], options: ServeOptions): Server {
  return new Server(Array.isArray(listeners) ? listeners : [listeners], options);
}

/** A running server. Create it with {@linkcode serve}. */
export class Server implements ServerHandle {
  readonly addr: Deno.Addr;
  readonly finished: Promise<ServeSummary>;

  #listeners: Listener[];
  #logger: Logger;
  #registry: Registry;
  #members = new Members<Connection>();
  /** What the server counts as it goes, for `/metrics`. */
  readonly metrics = new ServerMetrics();
  /** Connections that left the room and are still closing: their counts are not final yet. */
  #leaving = new Set<Connection>();
  #modeName: string;
  #mode: Mode;
  #tasks = new Set<Promise<void>>();
  #stop = new AbortController();
  #summary: ServeSummary = emptySummary();
  #door: Door;
  #drainTimeoutMs: number;
  #rounds = new Rounds();
  /** Connections being served, and a promise for when the last one has finished. */
  #serving = 0;
  #allFinished: PromiseWithResolvers<void> | undefined;
  #sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(listeners: Listener[], options: ServeOptions) {
    if (listeners.length === 0) throw new TypeError("serve() needs at least one listener");
    const { mode = "console", maxLine = 65536, maxQueue = 1 << 20, drainTimeout = 5 } = options;
    const { idleTimeout = 0, lineTimeout = 30, handshakeTimeout = 10, logger, registry } = options;
    this.#listeners = listeners;
    this.#logger = logger;
    this.#registry = registry;
    this.#drainTimeoutMs = drainTimeout * 1000;
    // The chat operator's bans, refused at the door: those in force elsewhere from the start.
    const bans = new Bans();
    for (const { entry, until } of options.bans ?? []) {
      try {
        bans.add(entry, until);
      } catch {
        // Not an address: not a ban any server made.
      }
    }
    this.#door = new Door({
      bans,
      registry,
      access: options.access,
      logger,
      metrics: this.metrics,
      summary: this.#summary,
      handshakeTimeoutMs: handshakeTimeout * 1000,
      drainTimeoutMs: this.#drainTimeoutMs,
      stopped: this.#stop.signal,
      track: (task) => this.#track(task),
    });
    this.addr = listeners[0].addr;
    this.#modeName = mode;
    this.#mode = createMode(mode, {
      members: this.#members,
      registry,
      relay: options.relay,
      history: options.history,
      directory: options.directory,
      bans,
      banStore: options.banStore,
      sessionStore: options.sessionStore,
      room: options.room,
      maxRooms: options.maxRooms,
      resumeWindowMs: (options.resumeWindow ?? 0) * 1000,
      resumeBytes: options.resumeBuffer,
      sessionsOff: options.sessionsOff,
      transcript: options.transcript,
      // As much as may wait for a client before the talkers are slowed.
      historyBytes: maxQueue / 2,
      operator: options.operator,
      logger,
      shutdown: (reason) => void this.shutdown(reason),
      signal: this.#stop.signal,
      stats: () => {
        const now = this.stats();
        return describeMetrics({
          ...now,
          roomMembers: 0,
          rssBytes: Deno.memoryUsage().rss,
          ready: !now.draining && now.clients < now.maxConns,
        });
      },
    });
    const deadlines = { idleMs: idleTimeout * 1000, lineMs: lineTimeout * 1000 };
    const timeouts = [deadlines.idleMs, deadlines.lineMs].filter((t) => t > 0);
    const clock = new Clock();
    if (timeouts.length > 0) {
      this.#sweeper = setInterval(() => {
        const now = clock.tick();
        for (const conn of this.#members) conn.enforceTimeouts(now);
      }, sweepInterval(timeouts));
    }

    const pool = new BufferPool();
    const congestion = new Congestion();
    // A relay that has sent more than the other servers have taken holds the talkers as a backed-up
    // client would.
    const relay = options.relay;
    relay?.pressure?.((backedUp) => backedUp ? congestion.add(relay) : congestion.delete(relay));
    for (const listener of listeners) {
      const settings: ConnectionSettings = {
        transport: transportOf(listener),
        maxLine,
        maxQueue,
        drainTimeoutMs: this.#drainTimeoutMs,
        deadlines,
        clock,
        rounds: this.#rounds,
        pool,
        congestion,
        onClose: (conn, reason) => this.#left(conn, reason),
        onThrottled: (conn) => this.#throttled(conn),
        rate: options.rate,
        rateKickMs: (options.rateKick ?? 0) * 1000,
        onRateLimited: (conn) => this.#rateLimited(conn),
        onFinished: (conn) => this.#finished(conn),
      };
      const { addr, details = {} } = listener;
      const where = formatAddr(addr);
      const described = [`${mode} mode`, ...(settings.transport === "tcp" ? [] : [settings.transport])]
        .concat(Object.entries(details).map(([key, value]) => `${key} ${value}`));
      logger.info("listening", `listening on ${where} (${described.join(", ")})`, {
        ...(addr.transport === "unix"
          ? { path: where }
          : { host: (addr as Deno.NetAddr).hostname, port: (addr as Deno.NetAddr).port }),
        transport: settings.transport,
        mode,
        ...details,
      });
      this.#track(this.#acceptLoop(listener, settings));
    }
    const { signal } = options;
    const onAbort = () =>
      this.shutdown(typeof signal?.reason === "string" ? signal.reason : "shutdown requested");
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    this.finished = this.#run().finally(() => signal?.removeEventListener("abort", onAbort));
  }

  shutdown(reason = "shutdown requested"): Promise<ServeSummary> {
    if (!this.#stop.signal.aborted) {
      this.#logger.info(
        "shutdown",
        `shutting down (${reason}); closing ${count(this.#members.size, "connection")}`,
        {
          reason,
          open: this.#members.size,
        },
      );
      this.#stop.abort();
      clearInterval(this.#sweeper);
      // The caller may have closed one already; either way no more accepts.
      for (const listener of this.#listeners) closeQuietly(listener);
      for (const conn of [...this.#members]) conn.close("server shutting down", SHUTTING_DOWN);
      this.#door.closeAll();
    }
    return this.finished;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /** Reads the settings again: set by whoever knows where they come from (see `ServerHandle`). */
  reload?: () => Promise<string>;

  /** From now on, the access list decides who may connect (open connections stay). */
  setAccess(access: AccessList | undefined): void {
    this.#door.setAccess(access);
  }

  /** Who may connect now. */
  get access(): AccessList {
    return this.#door.access;
  }

  stats(): ServerStats {
    const open = new Map<string, number>();
    const stats = emptyStats(
      this.metrics,
      this.#modeName,
      this.#registry.maxConns,
      this.#stop.signal.aborted,
    );
    stats.clients = this.#members.size;
    for (const conn of this.#members) open.set(conn.transport, (open.get(conn.transport) ?? 0) + 1);
    for (const conn of [...this.#members, ...this.#leaving]) {
      stats.liveLinesIn += conn.linesIn;
      stats.liveLinesOut += conn.linesOut;
      stats.liveBytesIn += conn.bytesIn;
      stats.liveBytesOut += conn.bytesOut;
      stats.queueMaxBytes = Math.max(stats.queueMaxBytes, conn.queued);
      stats.queueBytes += conn.queued;
    }
    stats.open = [...open].sort(([a], [b]) => a.localeCompare(b));
    return stats;
  }

  async #run(): Promise<ServeSummary> {
    // The accept loops, and refusals; a refusal's task is added while the loops run.
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
    if (this.#serving > 0) {
      this.#allFinished = Promise.withResolvers();
      await this.#allFinished.promise;
    }
    await this.#rounds.close();
    this.#door.flushLogs();
    this.#logger.info("summary", describeSummary(this.#summary), { ...this.#summary });
    return { ...this.#summary };
  }

  #track(task: Promise<void>): void {
    const tracked = task.finally(() => this.#tasks.delete(tracked));
    this.#tasks.add(tracked);
  }

  async #acceptLoop(listener: Listener, settings: ConnectionSettings): Promise<void> {
    const stopped = this.#stop.signal;
    let failures = 0;
    while (!stopped.aborted) {
      let stream: Stream;
      try {
        stream = await listener.accept();
      } catch (error) {
        if (stopped.aborted) break;
        if (error instanceof Deno.errors.BadResource) {
          // Someone else closed our listener: nothing more will ever arrive.
          this.shutdown("listener closed");
          break;
        }
        failures++;
        if (failures === 1) {
          this.#logger.warn("accept_error", `accept failed: ${describeNetError(error)}; backing off`, {
            error: describeNetError(error),
          });
        }
        await delay(backoffDelay(failures, ACCEPT_BACKOFF), { signal: stopped });
        continue;
      }
      if (failures > 0) {
        this.#logger.info("accept_recovered", `accepting again after ${failures} failed accepts`, {
          failures,
        });
        failures = 0;
      }
      if (stopped.aborted) {
        stream.close();
        break;
      }
      this.#door.enter(
        stream,
        listener.kind ?? settings.transport,
        (admitted) => this.#open(admitted, settings),
      );
    }
  }

  /** A client from now on: it joins the room and its connection is served. */
  #open(stream: Stream, settings: ConnectionSettings): void {
    const conn = new Connection(stream, { id: this.#registry.nextId(), settings });
    this.#members.add(conn);
    this.#summary.connections++;
    this.metrics.accepted++;
    if (this.#logger.verbose) {
      this.#logger.detail(
        "connect",
        `#${conn.id} connected from ${conn.remote} (${this.#members.size} open)`,
        {
          id: conn.id,
          remote: conn.remote,
          transport: conn.transport,
          open: this.#members.size,
        },
      );
    }
    // No promise per connection is kept: it tells #finished when it is done.
    this.#serving++;
    void conn.serve(this.#mode);
  }

  /** A client sends faster than it reads its replies: reading it waits for them (logged once). */
  #throttled(conn: Connection): void {
    this.metrics.throttled++;
    this.#logger.info(
      "throttled",
      `#${conn.id} throttled: it sends faster than it reads its replies, so reading it waits for them`,
      { id: conn.id, remote: conn.remote },
    );
  }

  /** A client sent faster than `--rate`: its lines wait for their turn (logged once). */
  #rateLimited(conn: Connection): void {
    this.metrics.rateLimited++;
    this.#logger.info(
      "rate_limited",
      `#${conn.id} sends faster than --rate: its lines wait for their turn`,
      { id: conn.id, remote: conn.remote },
    );
  }

  /** A connection's socket is closed. */
  #finished(conn: Connection): void {
    this.#summary.linesIn += conn.linesIn;
    this.#summary.linesOut += conn.linesOut;
    this.metrics.linesIn += conn.linesIn;
    this.metrics.linesOut += conn.linesOut;
    this.metrics.bytesIn += conn.bytesIn;
    this.metrics.bytesOut += conn.bytesOut;
    this.#leaving.delete(conn);
    if (conn.unsent > 0) {
      this.#logger.warn(
        "drain_timeout",
        `#${conn.id}: closed after the drain timeout with ${conn.unsent} bytes not sent`,
        { id: conn.id, unsent: conn.unsent },
      );
    }
    if (--this.#serving === 0) this.#allFinished?.resolve();
  }

  /** A connection started closing (a microtask ago): it leaves the room and the mode. */
  #left(conn: Connection, reason: CloseReason): void {
    this.#members.delete(conn);
    this.metrics.closed.add(reason);
    this.#leaving.add(conn);
    this.#registry.release(conn.ip);
    // At shutdown everyone leaves at once; telling each client about the others is noise.
    if (!this.#stop.signal.aborted) this.#mode.leave(conn, reason);
    const detail = conn.closeDetail;
    // "connection reset by peer" says more than "connection lost: connection reset by peer".
    const why = detail === undefined
      ? reason
      : reason === "connection lost"
      ? detail
      : `${reason}: ${detail}`;
    const fields = {
      id: conn.id,
      remote: conn.remote,
      reason,
      linesIn: conn.linesIn,
      linesOut: conn.linesOut,
      open: this.#members.size,
      ...(detail === undefined ? {} : { detail }),
    };
    const msg =
      `#${conn.id} disconnected: ${why} (${count(conn.linesIn, "line")} in, ${conn.linesOut} out; ` +
      `${this.#members.size} open)`;
    if (isViolation(reason)) this.#logger.warn("disconnect", msg, fields);
    else this.#logger.detail("disconnect", msg, fields);
  }
}
