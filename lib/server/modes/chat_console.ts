/**
 * The operator's console in chat mode: the server's terminal shows what is said in every room this
 * server hears, `[HH:MM:SS.mmm] #room <alice> text` (escaped by the chat before it got here), and
 * takes the commands of {@linkcode CHAT_OPERATOR_HELP}: speaking into a room as `operator`,
 * `/kick`, `/mute`, `/ban` (carried out by whichever server holds the client), `/rooms`, `/who`,
 * `/list` and `/stats`. The prompt names the operator's current room (`#parley> `).
 */

import { escapeText } from "../../protocol/escape.ts";
import { parseRoom } from "../../protocol/rooms.ts";
import { clockTime } from "../../util/time.ts";
import type { Logger } from "../../log.ts";
import { CHAT_OPERATOR_HELP, type Operator, parseChatOperatorCommand, readOperator } from "../operator.ts";
import type { ChatControl } from "./chat.ts";

const decoder = new TextDecoder();

/** Options for {@linkcode startChatConsole}. */
export interface ChatConsoleOptions {
  operator: Operator;
  /** The chat the console works. */
  chat: ChatControl;
  /** The room the operator starts in. */
  room: string;
  /** Asks the server to shut down gracefully. */
  shutdown: (reason: string) => void;
  logger: Logger;
  /** Aborts when the server shuts down: operator input is no longer read. */
  signal: AbortSignal;
  /** The server's numbers, for `/stats`. */
  stats?: () => string;
}

/** The console, once started: what shows a room's line to the operator. */
export interface ChatConsole {
  show(room: string, line: string | Uint8Array): void;
}

/** Starts reading the operator's commands; returns what shows them the rooms' lines. */
export function startChatConsole(options: ChatConsoleOptions): ChatConsole {
  const { operator, chat, shutdown } = options;
  let room = options.room;
  const note = (text: string) => operator.print(`! ${text}`);
  const enter = (name: string) => {
    room = name;
    chat.enter(name);
    operator.prompt?.(`${name}> `);
  };
  const answer = (reply: Promise<string> | string) =>
    Promise.resolve(reply).then((text) => operator.print(`* ${text}`), (error) => note(String(error)));

  async function command(line: string): Promise<void> {
    const command = parseChatOperatorCommand(line);
    switch (command.kind) {
      case "say": {
        const error = chat.speak(command.room ?? room, command.text);
        if (error !== undefined) note(error);
        break;
      }
      case "join": {
        const parsed = parseRoom(command.room);
        if ("error" in parsed) note(`invalid room ${escapeText(command.room.slice(0, 40))}: ${parsed.error}`);
        else enter(parsed.room);
        break;
      }
      case "kick":
        await answer(chat.moderate(command.name, { kind: "kick", reason: command.reason }));
        break;
      case "mute":
        await answer(chat.moderate(command.name, { kind: "mute", minutes: command.minutes }));
        break;
      case "unmute":
        await answer(chat.moderate(command.name, { kind: "unmute" }));
        break;
      case "ban":
        await answer(
          command.address
            ? chat.ban(command.target, command.minutes)
            : chat.moderate(command.target, { kind: "ban", minutes: command.minutes }),
        );
        break;
      case "unban":
        await answer(chat.unban(command.entry));
        break;
      case "bans": {
        const bans = chat.bans();
        if (bans.length === 0) operator.print("* no bans");
        for (const { entry, until } of bans) {
          operator.print(`* ${entry} until ${new Date(until).toISOString()}`);
        }
        break;
      }
      case "rooms":
        await answer(chat.rooms());
        break;
      case "who":
        await answer(chat.who(command.room ?? room));
        break;
      case "list":
        operator.print(table(chat.list()));
        break;
      case "stats":
        operator.print(options.stats?.() ?? "no numbers kept here");
        break;
      case "quit":
        shutdown("operator /quit");
        break;
      case "help":
        operator.print(CHAT_OPERATOR_HELP);
        break;
      case "invalid":
        note(command.message);
        break;
      case "none":
        break;
    }
  }

  enter(room);
  void readOperator(operator, options, command);
  return {
    show(room, line) {
      operator.print(`[${clockTime()}] ${room} ${typeof line === "string" ? line : decoder.decode(line)}`);
    },
  };
}

/** The `/list` table. */
function table(rows: string[][]): string {
  if (rows.length === 0) return "no clients connected";
  const header = [" ID", "NAME", "ADDRESS", "ROOMS", "IN", "OUT", ""];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  return [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd())
    .join("\n");
}
