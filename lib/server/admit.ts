/**
 * The server's door: what happens to an accepted stream before it is a client. The access list
 * may deny it (closed before a byte is read), the registry may refuse it (`ERR server full`, then
 * closed), and a transport with a handshake (TLS, a WebSocket's HTTP upgrade) finishes it under
 * the handshake timeout. Only a stream that passes all three is handed on to be served; the rest
 * are counted, logged (once per burst) and closed here.
 */

import type { Logger } from "../log.ts";
import { FloodLog } from "../log.ts";
import { describeRefusal, type Registry } from "../registry/registry.ts";
import { NotAClient, type Stream } from "../transport/transport.ts";
import { closeQuietly } from "../util/close_quietly.ts";
import { delay } from "../util/delay.ts";
import { describeNetError, formatAddr, ipOf } from "../util/net.ts";
import { writeAll } from "../util/write.ts";
import { AccessList, type Bans } from "./access_list.ts";
import type { ServerMetrics } from "./metrics.ts";
import type { ServeSummary } from "./summary.ts";

/** Options for {@linkcode Door}. */
export interface DoorOptions {
  registry: Registry;
  /** Who may connect. @default {everyone} */
  access?: AccessList;
  /** Addresses the chat's operator banned. */
  bans?: Bans;
  logger: Logger;
  /** Where refusals are counted. */
  metrics: ServerMetrics;
  /** Where denials and failed handshakes are counted. */
  summary: ServeSummary;
  handshakeTimeoutMs: number;
  /** How long a refused peer may take to read its `ERR` line. */
  drainTimeoutMs: number;
  /** Aborted at shutdown: handshakes that finish after it are not served. */
  stopped: AbortSignal;
  /** Keeps a task (a handshake, a refusal) that shutdown must wait for. */
  track(task: Promise<void>): void;
}

/** What a stream of one listener is served as once it passes the door. */
export type Admitted = (stream: Stream) => void;

/** Decides which accepted streams become clients. */
export class Door {
  #options: DoorOptions;
  /** The list in force, and the same only when it restricts anything (the fast path is none). */
  #list: AccessList = new AccessList({});
  #access: AccessList | undefined;
  /** Streams still in their handshake: not yet clients, closed at shutdown. */
  #handshaking = new Set<Stream>();
  #deniedLog: FloodLog;
  #handshakeLog: FloodLog;

  constructor(options: DoorOptions) {
    this.#options = options;
    this.setAccess(options.access);
    this.#deniedLog = new FloodLog(options.logger, "denied", "denied connections");
    this.#handshakeLog = new FloodLog(options.logger, "handshake_failed", "failed handshakes");
  }

  /** From now on, `access` decides who may connect (open connections stay). */
  setAccess(access: AccessList | undefined): void {
    this.#list = access ?? new AccessList({});
    this.#access = this.#list.empty ? undefined : this.#list;
  }

  /** Who may connect now. */
  get access(): AccessList {
    return this.#list;
  }

  /**
   * Lets `stream` in, or turns it away; `admitted` serves it. `kind` is what its transport is
   * called in messages (`TLS`).
   */
  enter(stream: Stream, kind: string, admitted: Admitted): void {
    const { registry, metrics } = this.#options;
    const ip = ipOf(stream.remoteAddr);
    const denied = this.#access?.refuses(ip);
    if (denied !== undefined) return this.#deny(stream, denied);
    if (this.#options.bans?.refuses(ip)) {
      metrics.refused.add("banned");
      return this.#refuse(stream, "banned", "you are banned from this server");
    }
    const refusal = registry.admit(ip);
    if (refusal !== undefined) {
      metrics.refused.add(refusal === "server full" ? "server full" : "too many from one address");
      return this.#refuse(stream, refusal, describeRefusal(refusal, registry, ip));
    }
    if (stream.handshake === undefined) admitted(stream);
    else this.#options.track(this.#handshake(stream, kind, ip, admitted));
  }

  /** Closes the streams still in their handshake (at shutdown). */
  closeAll(): void {
    for (const stream of this.#handshaking) closeQuietly(stream, { reason: "going away" });
  }

  /** Says what was held back for a burst. */
  flushLogs(): void {
    this.#deniedLog.flush();
    this.#handshakeLog.flush();
  }

  /** Closed at once, before a byte is read: the access list refuses the peer. */
  #deny(stream: Stream, why: "denied" | "not allowed"): void {
    this.#options.summary.denied++;
    this.#options.metrics.refused.add(why);
    const remote = formatAddr(stream.remoteAddr);
    closeQuietly(stream, { reason: "refused" });
    this.#deniedLog.warn(`denied ${remote}: ${why === "denied" ? "in --deny" : "not in --allow"}`, {
      remote,
      reason: why,
    });
  }

  /** Turns a connection away at the door: it gets one ERR line and is never served. */
  #refuse(stream: Stream, refusal: string, message: string): void {
    const remote = formatAddr(stream.remoteAddr);
    this.#options.logger.warn("refused", `refused ${remote}: ${refusal}`, { remote, reason: refusal });
    const stop = new AbortController();
    this.#options.track(
      Promise.race([
        writeAll(stream, `ERR ${message}\n`).catch(() => {/* it left already; nothing to tell */}),
        delay(this.#options.drainTimeoutMs, { signal: stop.signal }),
      ]).finally(() => {
        stop.abort();
        closeQuietly(stream, { reason: "refused", message });
      }),
    );
  }

  /**
   * Finishes a handshake (TLS, a WebSocket's HTTP upgrade) under the handshake timeout; only then
   * is the peer a client. One that never finishes, or speaks plain text to a TLS port, costs its
   * socket until then, nothing more: at the timeout it is closed, which ends its handshake.
   */
  async #handshake(
    stream: Stream,
    kind: string,
    ip: string | undefined,
    admitted: Admitted,
  ): Promise<void> {
    const { registry, stopped, handshakeTimeoutMs } = this.#options;
    this.#handshaking.add(stream);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      closeQuietly(stream);
    }, handshakeTimeoutMs);
    try {
      await stream.handshake!();
    } catch (error) {
      registry.release(ip);
      closeQuietly(stream);
      this.#failed(stream, kind, error, timedOut);
      return;
    } finally {
      clearTimeout(timer);
      this.#handshaking.delete(stream);
    }
    if (stopped.aborted) {
      registry.release(ip);
      closeQuietly(stream, { reason: "going away" });
      return;
    }
    admitted(stream);
  }

  /** A handshake that did not make a client: a failure (warned of), or a peer that was none. */
  #failed(stream: Stream, kind: string, error: unknown, timedOut: boolean): void {
    const remote = formatAddr(stream.remoteAddr);
    // A peer that got its web page, or never said a word (a browser's spare connection), did not
    // fail at anything: no warning.
    if (error instanceof NotAClient) {
      this.#options.logger.debug("handshake_not_client", `${remote} ${error.message}`, {
        remote,
        reason: error.message,
      });
      return;
    }
    this.#options.summary.failedHandshakes++;
    this.#options.metrics.refused.add("handshake failed");
    if (this.#options.stopped.aborted) return;
    const reason = timedOut
      ? `timed out after ${this.#options.handshakeTimeoutMs / 1000} s`
      : describeNetError(error);
    this.#handshakeLog.warn(`${kind} handshake with ${remote} failed: ${reason}`, { remote, kind, reason });
  }
}
