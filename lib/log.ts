/**
 * The server's event log: one line per lifecycle event on stderr, as text for people or as JSON
 * for machines.
 *
 * Text lines are `[HH:MM:SS.mmm] message`, with anything a client could have influenced escaped.
 * JSON lines are one object each (`time`, `level`, `event`, `msg` and the event's fields);
 * `JSON.stringify` escapes every control character, so a hostile line cannot break the framing.
 */

import { escapeControl } from "./escape.ts";
import { clockTime, isoTime } from "./time.ts";

/** How log lines are written. */
export type LogFormat = "text" | "json";

/** Severity of an event. */
export type LogLevel = "info" | "warn" | "error";

/** Structured detail of an event, e.g. `{ id: 3, remote: "127.0.0.1:5555" }`. */
export type LogFields = Record<string, string | number | boolean>;

/** Writes events. */
export interface Logger {
  /** Logs an event that `--quiet` silences: connects and disconnects. */
  detail(event: string, msg: string, fields?: LogFields): void;
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
  /** Receives each finished line, without a trailing newline. */
  write: (line: string) => void;
}

/** Formats one event as a text log line. */
function formatTextLine(level: LogLevel, msg: string, time = clockTime()): string {
  const marker = level === "info" ? "" : `${level}: `;
  return `[${time}] ${marker}${escapeControl(msg)}`;
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
  const { format = "text", quiet = false, write } = options;
  function log(level: LogLevel, event: string, msg: string, fields?: LogFields): void {
    write(format === "json" ? formatJsonLine(level, event, msg, fields) : formatTextLine(level, msg));
  }
  return {
    detail: (event, msg, fields) => {
      if (!quiet) log("info", event, msg, fields);
    },
    info: (event, msg, fields) => log("info", event, msg, fields),
    warn: (event, msg, fields) => log("warn", event, msg, fields),
    error: (event, msg, fields) => log("error", event, msg, fields),
  };
}
