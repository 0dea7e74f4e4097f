/**
 * Console mode, the classic lesson: clients talk, the operator at the server's terminal answers.
 *
 * Every received line is shown to the operator as `[HH:MM:SS.mmm] #ID HOST:PORT > text`, escaped
 * so that no client can drive the operator's terminal. A plain operator line goes to the client
 * that most recently sent a line; the other forms are in {@linkcode OPERATOR_HELP}.
 */

import type { Connection } from "../connection.ts";
import { OPERATOR_HELP, parseOperatorCommand } from "../console.ts";
import { escapeControl } from "../escape.ts";
import type { Room } from "../room.ts";
import { clockTime } from "../time.ts";
import type { Mode } from "./mode.ts";

const DOT = 0x2e;
const decoder = new TextDecoder();

/** Options for {@linkcode createConsoleMode}. */
export interface ConsoleModeOptions {
  room: Room;
  /** Shows one line to the operator. */
  print: (line: string) => void;
  /** Asks the server to shut down gracefully. */
  shutdown: (reason: string) => void;
}

/** A mode that also takes operator commands. */
export interface ConsoleMode extends Mode {
  /** Carries out one line the operator typed. */
  command(line: string): void;
}

/** Formats the `/list` table. */
function formatClientList(clients: Iterable<Connection>, current: Connection | undefined): string {
  const rows = [...clients].map((conn) => [
    `${conn === current ? "*" : " "}#${conn.id}`,
    conn.remote,
    clockTime(conn.connectedAt.toZonedDateTimeISO(Temporal.Now.timeZoneId()).toPlainTime()),
    String(conn.linesIn),
    String(conn.linesOut),
  ]);
  if (rows.length === 0) return "no clients connected";
  const header = [" ID", "ADDRESS", "SINCE", "IN", "OUT"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  return [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd())
    .join("\n");
}

/** Creates console mode. */
export function createConsoleMode(options: ConsoleModeOptions): ConsoleMode {
  const { room, print, shutdown } = options;
  let current: Connection | undefined;

  function note(text: string): void {
    print(`! ${text}`);
  }

  function sendTo(id: number, text: string): void {
    const conn = room.get(id);
    if (conn === undefined) note(`no client #${id}; /list shows who is connected; nothing sent`);
    else conn.send(text);
  }

  return {
    join() {},
    line(conn, line) {
      current = conn;
      const text = decoder.decode(line);
      print(`[${clockTime()}] #${conn.id} ${conn.remote} > ${escapeControl(text)}`);
      if (line.length === 1 && line[0] === DOT) conn.close("client ended the conversation");
    },
    leave(conn) {
      // Joins and leaves are in the event log on stderr; stdout stays the conversation itself.
      if (conn === current) current = undefined;
    },
    command(line) {
      const command = parseOperatorCommand(line);
      switch (command.kind) {
        case "reply":
          if (current === undefined) {
            note("no current client (no one has sent a line yet); use @ID text or /all text");
          } else current.send(command.text);
          break;
        case "send":
          sendTo(command.id, command.text);
          break;
        case "all":
          if (room.size === 0) note("no clients connected; nothing sent");
          else room.broadcast(command.text);
          break;
        case "list":
          print(formatClientList(room, current));
          break;
        case "kick": {
          const conn = room.get(command.id);
          if (conn === undefined) note(`no client #${command.id}; /list shows who is connected`);
          else conn.close("kicked by operator", "* disconnected by the operator");
          break;
        }
        case "end":
          if (current === undefined) note("no current client to end the conversation with");
          else current.close("operator ended the conversation", "* the operator ended the conversation");
          break;
        case "quit":
          shutdown("operator /quit");
          break;
        case "help":
          print(OPERATOR_HELP);
          break;
        case "invalid":
          note(command.message);
          break;
        case "none":
          break;
      }
    },
  };
}
