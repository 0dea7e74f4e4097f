/**
 * Console mode, the classic lesson: clients talk, the operator at the server's terminal answers.
 *
 * Every received line is shown to the operator as `[HH:MM:SS.mmm] #ID HOST:PORT > text`, escaped
 * so that no client can drive the operator's terminal. A plain operator line goes to the client
 * that most recently sent a line, the current client, whom the prompt names (`#3> `), or, after
 * `/to 3`, to that client until `/to` alone (`@3> `): a line arriving while a reply is half typed
 * then cannot move it. The other forms are in {@linkcode OPERATOR_HELP}. A client that half-closes (a script that has said all it
 * had to say) stays connected, so the operator can still answer it; `.` ends it.
 */

import { escapeText } from "../../protocol/escape.ts";
import { KICKED, OPERATOR_ENDED } from "../../protocol/goodbye.ts";
import { clockTime } from "../../util/time.ts";
import type { Logger } from "../../log.ts";
import { type Operator, OPERATOR_HELP, parseOperatorCommand, readOperator } from "../operator.ts";
import type { Members } from "../members.ts";
import type { Member, Mode } from "./mode.ts";

const DOT = 0x2e;
const decoder = new TextDecoder();

/** Options for {@linkcode createConsoleMode}. */
export interface ConsoleModeOptions {
  members: Members;
  /** Where commands come from and the conversation is shown; without one, nobody answers. */
  operator?: Operator;
  /** Asks the server to shut down gracefully. */
  shutdown: (reason: string) => void;
  /** For "operator input ended". */
  logger: Logger;
  /** Aborts when the server shuts down: operator input is no longer read. */
  signal: AbortSignal;
  /** The server's numbers, for `/stats`. */
  stats?: () => string;
}

/** A mode that also takes operator commands. */
export interface ConsoleMode extends Mode {
  /** Carries out one line the operator typed. */
  command(line: string): void;
}

/** Formats the `/list` table. */
function formatClientList(members: Iterable<Member>, current: Member | undefined): string {
  const timeZone = Temporal.Now.timeZoneId();
  const rows = [...members].map((member) => [
    `${member === current ? "*" : " "}#${member.id}`,
    member.remote,
    member.transport,
    clockTime(
      Temporal.Instant.fromEpochMilliseconds(member.connectedAt).toZonedDateTimeISO(timeZone).toPlainTime(),
    ),
    String(member.linesIn),
    String(member.linesOut),
  ]);
  if (rows.length === 0) return "no clients connected";
  const header = [" ID", "ADDRESS", "VIA", "SINCE", "IN", "OUT"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  return [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd())
    .join("\n");
}

/** Creates console mode, and starts carrying out the operator's commands. */
export function createConsoleMode(options: ConsoleModeOptions): ConsoleMode {
  const { members, operator, shutdown } = options;
  const print = operator?.print ?? (() => {});
  let current: Member | undefined;
  /** Whether the operator holds the current client (`/to ID`) rather than following the last sender. */
  let held = false;
  /** Why there is no current client, for the note when the operator replies anyway. */
  let noCurrent = "no one has sent a line yet";

  function note(text: string): void {
    print(`! ${text}`);
  }

  function setCurrent(member: Member | undefined, why?: string, hold = false): void {
    if (member === current && hold === held) return;
    current = member;
    held = hold && member !== undefined;
    if (why !== undefined) noCurrent = why;
    operator?.prompt?.(member === undefined ? "> " : `${held ? "@" : "#"}${member.id}> `);
  }

  function sendTo(id: number, text: string): void {
    const member = members.get(id);
    if (member === undefined) note(`no client #${id}; /list shows who is connected; nothing sent`);
    else member.send(text);
  }

  const mode: ConsoleMode = {
    join() {},
    line(member, line) {
      print(`[${clockTime()}] #${member.id} ${member.remote} > ${escapeText(decoder.decode(line))}`);
      if (line.length === 1 && line[0] === DOT) member.close("client ended the conversation");
      else if (!held) setCurrent(member);
    },
    ended(member) {
      note(`#${member.id} has finished sending; answer it, or . to end the conversation`);
      return "keep open";
    },
    leave(member, reason) {
      // Joins and leaves are in the event log on stderr; stdout stays the conversation itself.
      if (member === current) setCurrent(undefined, `#${member.id} left: ${reason}`);
    },
    command(line) {
      const command = parseOperatorCommand(line);
      switch (command.kind) {
        case "reply":
          if (current === undefined) note(`no current client (${noCurrent}); use @ID text or /all text`);
          else current.send(command.text);
          break;
        case "send":
          sendTo(command.id, command.text);
          break;
        case "all":
          if (members.size === 0) note("no clients connected; nothing sent");
          else members.broadcast(command.text);
          break;
        case "list":
          print(formatClientList(members, current));
          break;
        case "stats":
          print(options.stats?.() ?? "no numbers kept here");
          break;
        case "to": {
          if (command.id === undefined) {
            setCurrent(current, undefined, false);
            note("plain replies follow the last sender again");
            break;
          }
          const member = members.get(command.id);
          if (member === undefined) note(`no client #${command.id}; /list shows who is connected`);
          else setCurrent(member, undefined, true);
          break;
        }
        case "kick": {
          const member = members.get(command.id);
          if (member === undefined) note(`no client #${command.id}; /list shows who is connected`);
          else member.close("kicked by operator", KICKED);
          break;
        }
        case "end":
          if (current === undefined) note(`no current client to end the conversation with (${noCurrent})`);
          else current.close("operator ended the conversation", OPERATOR_ENDED);
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
  if (operator !== undefined) void readOperator(operator, options, (line) => mode.command(line));
  return mode;
}
