/**
 * The server: an accept loop over a listener it is given, one concurrent task per connection, and
 * graceful shutdown.
 *
 * Like mini-redis's `run(listener, shutdown)`, it never calls `Deno.listen` itself: the caller owns
 * the listener and the abort signal, so the CLI, the tests (port 0) and any future listener share
 * this code. The handle has the shape of `Deno.serve`'s: `addr`, `finished`, `shutdown()`.
 *
 * The loop never awaits a connection, and nothing a connection does can reach it: each connection
 * turns every way of ending into a close reason. Accept errors (EMFILE, ECONNABORTED, ...) are
 * logged once per burst and retried after a back-off that doubles up to one second; only shutdown
 * ends the loop.
 */

import { backoffDelay } from "./backoff.ts";
import type { ServerConfig } from "./cli.ts";
import { Connection, type ConnectionOptions } from "./connection.ts";
import { readOperatorLines } from "./console.ts";
import type { Logger } from "./log.ts";
import { describeNetError, formatAddress } from "./net.ts";
import { createChatMode } from "./modes/chat.ts";
import { createConsoleMode } from "./modes/console.ts";
import { createEchoMode } from "./modes/echo.ts";
import type { Mode, ModeName } from "./modes/mode.ts";
import { Relay } from "./relay.ts";
import { Room } from "./room.ts";
import { SharedState } from "./shared_state.ts";

/** The operator's terminal, for console mode. */
export interface Operator {
  /** Lines the operator types. */
  input: ReadableStream<Uint8Array>;
  /** Shows one line to the operator. */
  print: (line: string) => void;
}

/** Options for {@linkcode serve}. */
export interface ServeOptions {
  /** @default {"console"} */
  mode?: ModeName;
  /** Longest line accepted from a client, in bytes. @default {65536} */
  maxLine?: number;
  /** Bytes that may wait for a client before it is dropped. @default {1048576} */
  maxQueue?: number;
  /** How long shutdown waits for queued lines to be flushed, in seconds. @default {5} */
  drainTimeout?: number;
  /** Most connections at once; more are refused with `ERR server full`. @default {10000} */
  maxConns?: number;
  /** Most connections at once from one address; 0 for no limit. @default {0} */
  maxConnsPerIp?: number;
  /** Seconds a client may stay silent; 0 for no limit. @default {0} */
  idleTimeout?: number;
  /** Seconds a client may take to finish a line it started; 0 for no limit. @default {30} */
  lineTimeout?: number;
  logger: Logger;
  /** Aborting it shuts the server down; its reason (a string) is logged. */
  signal?: AbortSignal;
  /** Console mode reads commands from and prints the conversation to the operator. */
  operator?: Operator;
  /**
   * Ids, limits and chat names shared with the other workers of the same server; `maxConns` and
   * `maxConnsPerIp` then come from it. By default this server has its own.
   */
  shared?: SharedState;
  /** Chat mode: the BroadcastChannel that links this worker's room to the other workers' rooms. */
  relay?: string;
}

/** What a server did, reported when it has finished. */
export interface ServeSummary {
  connections: number;
  linesIn: number;
  linesOut: number;
}

/** After accept errors: 5 ms, doubling, at most one second. */
const ACCEPT_BACKOFF = { initialMs: 5, maxMs: 1000 };

/** How often timeouts are checked: a tenth of the shortest, between 50 ms and 1 s. */
function sweepInterval(timeoutsMs: number[]): number {
  return Math.min(1000, Math.max(50, Math.min(...timeoutsMs) / 10));
}

/** The options of {@linkcode serve} that come straight from the command line. */
export function serveSettings(config: ServerConfig): Omit<ServeOptions, "logger"> {
  const { mode, maxLine, maxQueue, drainTimeout, maxConns, maxConnsPerIp, idleTimeout, lineTimeout } = config;
  return { mode, maxLine, maxQueue, drainTimeout, maxConns, maxConnsPerIp, idleTimeout, lineTimeout };
}

/** Starts serving on `listener`. */
export function serve(listener: Deno.TcpListener, options: ServeOptions): Server {
  return new Server(listener, options);
}

/** A running server. Create it with {@linkcode serve}. */
export class Server implements AsyncDisposable {
  /** The address it listens on, with the real port. */
  readonly addr: Deno.NetAddr;
  /** Resolves once the server has shut down and every connection is closed. */
  readonly finished: Promise<ServeSummary>;

  #listener: Deno.TcpListener;
  #logger: Logger;
  #connectionOptions: Omit<ConnectionOptions, "id">;
  #room = new Room();
  #mode: Mode;
  #tasks = new Set<Promise<void>>();
  #stop = new AbortController();
  #summary: ServeSummary = { connections: 0, linesIn: 0, linesOut: 0 };
  #shared: SharedState;
  #relay: Relay | undefined;
  #sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(listener: Deno.TcpListener, options: ServeOptions) {
    const { mode = "console", maxLine = 65536, maxQueue = 1 << 20, drainTimeout = 5, logger } = options;
    const { maxConns = 10000, maxConnsPerIp = 0, idleTimeout = 0, lineTimeout = 30 } = options;
    this.#listener = listener;
    this.#logger = logger;
    this.#shared = options.shared ?? SharedState.create({ maxConns, maxConnsPerIp, names: mode === "chat" });
    this.addr = listener.addr;
    this.#connectionOptions = {
      maxLine,
      maxQueue,
      drainTimeoutMs: drainTimeout * 1000,
      idleTimeoutMs: idleTimeout * 1000,
      lineTimeoutMs: lineTimeout * 1000,
      onClose: (conn, reason) => this.#left(conn, reason),
    };
    this.#mode = this.#createMode(mode, options);
    const timeouts = [idleTimeout, lineTimeout].filter((t) => t > 0).map((t) => t * 1000);
    if (timeouts.length > 0) {
      this.#sweeper = setInterval(() => {
        const now = performance.now();
        for (const conn of this.#room) conn.enforceTimeouts(now);
      }, sweepInterval(timeouts));
    }

    const address = formatAddress(this.addr.hostname, this.addr.port);
    logger.info("listening", `listening on ${address} (${mode} mode)`, {
      host: this.addr.hostname,
      port: this.addr.port,
      mode,
    });
    const { signal } = options;
    const onAbort = () =>
      this.shutdown(typeof signal?.reason === "string" ? signal.reason : "shutdown requested");
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    this.finished = this.#run().finally(() => signal?.removeEventListener("abort", onAbort));
  }

  /**
   * Stops accepting, tells every client `* server shutting down`, flushes what is queued (for at
   * most the drain timeout) and closes everything. Resolves like {@linkcode finished}.
   */
  shutdown(reason = "shutdown requested"): Promise<ServeSummary> {
    if (!this.#stop.signal.aborted) {
      this.#logger.info("shutdown", `shutting down (${reason}); closing ${this.#room.size} connections`, {
        reason,
        open: this.#room.size,
      });
      this.#stop.abort();
      clearInterval(this.#sweeper);
      try {
        this.#listener.close();
      } catch {
        // The caller closed it already; either way no more accepts.
      }
      for (const conn of [...this.#room]) conn.close("server shutting down", "* server shutting down");
    }
    return this.finished;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  #createMode(mode: ModeName, { operator, relay }: ServeOptions): Mode {
    if (mode === "echo") return createEchoMode();
    if (mode === "chat") {
      const names = this.#shared.names;
      if (names === undefined) throw new TypeError("chat mode needs shared state with a names table");
      if (relay !== undefined) this.#relay = new Relay(relay, (line) => this.#room.broadcast(line));
      return createChatMode({ room: this.#room, names, relay: this.#relay });
    }
    const console = createConsoleMode({
      room: this.#room,
      print: operator?.print ?? (() => {}),
      shutdown: (reason) => void this.shutdown(reason),
    });
    if (operator !== undefined) {
      readOperatorLines(operator.input, {
        maxLine: this.#connectionOptions.maxLine,
        onLine: (line) => console.command(line),
        onNote: (note) => operator.print(`! ${note}`),
        signal: this.#stop.signal,
      }).then(
        () => {
          if (!this.#stop.signal.aborted) {
            this.#logger.info("console", "operator input ended; still serving (stop with Ctrl+C or SIGTERM)");
          }
        },
        (error) => this.#logger.error("console", `operator input failed: ${describeNetError(error)}`),
      );
    }
    return console;
  }

  async #run(): Promise<ServeSummary> {
    await this.#acceptLoop();
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
    this.#relay?.close();
    const { connections, linesIn, linesOut } = this.#summary;
    this.#logger.info(
      "summary",
      `served ${connections} connections, ${linesIn} lines in, ${linesOut} lines out`,
      { ...this.#summary },
    );
    return { ...this.#summary };
  }

  async #acceptLoop(): Promise<void> {
    const stopped = this.#stop.signal;
    let failures = 0;
    while (!stopped.aborted) {
      let tcp: Deno.TcpConn;
      try {
        tcp = await this.#listener.accept();
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
        await delay(backoffDelay(failures, ACCEPT_BACKOFF), stopped);
        continue;
      }
      if (failures > 0) {
        this.#logger.info("accept_recovered", `accepting again after ${failures} failed accepts`, {
          failures,
        });
        failures = 0;
      }
      if (stopped.aborted) {
        tcp.close();
        break;
      }
      this.#start(tcp);
    }
  }

  #start(tcp: Deno.TcpConn): void {
    const ip = tcp.remoteAddr.hostname;
    const refusal = this.#shared.admit(ip);
    if (refusal === "server full") {
      this.#refuse(tcp, refusal, `server full (max ${this.#shared.maxConns} connections)`);
      return;
    }
    if (refusal !== undefined) {
      this.#refuse(tcp, refusal, `too many connections from ${ip} (max ${this.#shared.maxConnsPerIp})`);
      return;
    }
    const conn = new Connection(tcp, { id: this.#shared.nextId(), ...this.#connectionOptions });
    this.#room.add(conn);
    this.#summary.connections++;
    this.#logger.detail("connect", `#${conn.id} connected from ${conn.remote} (${this.#room.size} open)`, {
      id: conn.id,
      remote: conn.remote,
      open: this.#room.size,
    });
    this.#mode.join(conn);
    const task = conn.serve((c, line) => this.#mode.line(c, line)).then((reason) => {
      this.#tasks.delete(task);
      this.#summary.linesIn += conn.linesIn;
      this.#summary.linesOut += conn.linesOut;
      const fields = {
        id: conn.id,
        remote: conn.remote,
        reason,
        linesIn: conn.linesIn,
        linesOut: conn.linesOut,
      };
      const msg = `#${conn.id} disconnected: ${reason} (${conn.linesIn} lines in, ${conn.linesOut} out; ` +
        `${this.#room.size} open)`;
      if (conn.closedForViolation) this.#logger.warn("disconnect", msg, fields);
      else this.#logger.detail("disconnect", msg, fields);
    });
    this.#tasks.add(task);
  }

  /** Turns a connection away at the door: it gets one ERR line and is never served. */
  #refuse(tcp: Deno.TcpConn, reason: string, message: string): void {
    const { maxLine, maxQueue, drainTimeoutMs } = this.#connectionOptions;
    const conn = new Connection(tcp, { id: 0, maxLine, maxQueue, drainTimeoutMs });
    this.#logger.warn("refused", `refused ${conn.remote}: ${reason}`, { remote: conn.remote, reason });
    conn.reject(reason, message);
    const task = conn.closed.then(() => void this.#tasks.delete(task));
    this.#tasks.add(task);
  }

  #left(conn: Connection, reason: string): void {
    this.#room.delete(conn);
    this.#shared.release(conn.remoteHostname);
    // At shutdown everyone leaves at once; telling each client about the others is noise.
    if (!this.#stop.signal.aborted) this.#mode.leave(conn, reason);
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
