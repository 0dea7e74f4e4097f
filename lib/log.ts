/**
 * The server's event log: one line per lifecycle event on stderr, as text for people or as JSON
 * for machines.
 *
 * Text lines are `[HH:MM:SS.mmm] message`, with anything a client could have influenced escaped.
 * JSON lines are one object each (`time`, `level`, `event`, `msg` and the event's fields);
 * `JSON.stringify` escapes every control character, so a hostile line cannot break the framing.
 */

import { escapeText } from "./protocol/escape.ts";
import { clockTime, isoTime } from "./util/time.ts";

/** How log lines are written. */
export type LogFormat = "text" | "json";

/** Severity of an event. */
export type LogLevel = "info" | "warn" | "error";

/** The least severe event a logger writes (`--log-level`). */
export type Threshold = "debug" | "info" | "warn" | "error";

/** Structured detail of an event, e.g. `{ id: 3, remote: "127.0.0.1:5555" }`. */
export type LogFields = Record<string, string | number | boolean>;

/** Writes events. */
export interface Logger {
  /** Whether `detail` events are written (not `--quiet`): skip building them when not. */
  readonly verbose: boolean;
  /** Logs an event that `--quiet` silences: connects and disconnects. */
  detail(event: string, msg: string, fields?: LogFields): void;
  /** Logs an event only `--log-level debug` shows (written at level info). */
  debug(event: string, msg: string, fields?: LogFields): void;
  /** Logs an event worth seeing always: listening, shutdown, summary. */
  info(event: string, msg: string, fields?: LogFields): void;
  warn(event: string, msg: string, fields?: LogFields): void;
  error(event: string, msg: string, fields?: LogFields): void;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /** @default {"text"} */
  format?: LogFormat;
  /** Drop `detail` events. @default {false} */
  quiet?: boolean;
  /** The least severe event written. @default {"info"} */
  level?: Threshold;
  /** With `--workers`: which worker logs, shown as `w3:` in text and `"worker": 3` in JSON. */
  worker?: number;
  /** Receives each finished line, without a trailing newline. */
  write: (line: string) => void;
}

/** Formats one event as a text log line. */
function formatTextLine(level: LogLevel, msg: string, worker?: number, time = clockTime()): string {
  const source = worker === undefined ? "" : `w${worker}: `;
  const marker = level === "info" ? "" : `${level}: `;
  return `[${time}] ${source}${marker}${escapeText(msg)}`;
}

/** Formats one event as a JSON log line. */
function formatJsonLine(
  level: LogLevel,
  event: string,
  msg: string,
  fields: LogFields = {},
  time = isoTime(),
): string {
  return JSON.stringify({ time, level, event, msg, ...fields });
}

/** Creates a logger writing through `options.write`. */
export function createLogger(options: LoggerOptions): Logger {
  const { format = "text", quiet = false, level = "info", write, worker } = options;
  const rank = { debug: 0, info: 1, warn: 2, error: 3 }[level];
  function log(level: LogLevel, event: string, msg: string, fields?: LogFields): void {
    write(
      format === "json"
        ? formatJsonLine(level, event, msg, worker === undefined ? fields : { worker, ...fields })
        : formatTextLine(level, msg, worker),
    );
  }
  const verbose = !quiet && rank <= 1;
  return {
    verbose,
    detail: (event, msg, fields) => {
      if (verbose) log("info", event, msg, fields);
    },
    debug: (event, msg, fields) => {
      if (rank === 0) log("info", event, msg, fields);
    },
    info: (event, msg, fields) => {
      if (rank <= 1) log("info", event, msg, fields);
    },
    warn: (event, msg, fields) => {
      if (rank <= 2) log("warn", event, msg, fields);
    },
    error: (event, msg, fields) => log("error", event, msg, fields),
  };
}

/**
 * Logs promise rejections nobody handled instead of letting one end the process. Connections turn
 * their failures into close reasons, so this should never fire; if a bug lets one through, it must
 * cost a log line, not every client their connection. Returns a function that stops it.
 */
export function logUnhandledRejections(logger: Logger): () => void {
  const onUnhandled = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    const reason = event.reason instanceof Error
      ? event.reason.stack ?? event.reason.message
      : String(event.reason);
    logger.error("unhandled_rejection", `internal error (unhandled rejection): ${reason}`);
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  return () => globalThis.removeEventListener("unhandledrejection", onUnhandled);
}

/**
 * A warning that a flood could repeat thousands of times a second (denied connections, failed
 * TLS handshakes): the first few of each second are logged in full, the rest as one count, so a
 * flood costs a few lines, not the disk.
 */
export class FloodLog {
  #logger: Logger;
  #event: string;
  #what: string;
  #perSecond: number;
  #windowStart = 0;
  #inWindow = 0;
  #held = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Logs `event` warnings about `what` (plural: "denied connections") to `logger`. */
  constructor(logger: Logger, event: string, what: string, perSecond = 5) {
    this.#logger = logger;
    this.#event = event;
    this.#what = what;
    this.#perSecond = perSecond;
  }

  warn(msg: string, fields?: LogFields): void {
    const now = Date.now();
    if (now - this.#windowStart >= 1000) {
      this.flush();
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (this.#inWindow++ < this.#perSecond) this.#logger.warn(this.#event, msg, fields);
    else if (this.#held++ === 0) this.#timer = setTimeout(() => this.flush(), this.#windowStart + 1000 - now);
  }

  /** Logs how many were held back, if any. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#held === 0) return;
    this.#logger.warn(this.#event, `${this.#held} more ${this.#what} in that second, not shown one by one`, {
      count: this.#held,
    });
    this.#held = 0;
  }
}
