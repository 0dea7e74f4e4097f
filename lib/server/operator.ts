/**
 * The operator of console mode: what the lines they type mean, and where those lines come from.
 *
 * Parsing is pure, so every command form is unit-tested; carrying commands out is the console
 * mode's job, and where the lines come from (a terminal, a pipe, a test) the caller's.
 */

import type { Logger } from "../log.ts";
import { describeNetError } from "../util/net.ts";

/** The operator's side of console mode: lines typed, and a place to show the conversation. */
export interface Operator {
  /** Lines the operator types, until their input ends. */
  lines: AsyncIterable<string>;
  /** Shows one line to the operator. */
  print(line: string): void;
  /** Shows who a plain line goes to, as the prompt: `#3> `, or `> ` for nobody. */
  prompt?(text: string): void;
}

/** What one line typed by the operator asks for. */
export type OperatorCommand =
  | { kind: "reply"; text: string }
  | { kind: "send"; id: number; text: string }
  | { kind: "all"; text: string }
  | { kind: "list" }
  | { kind: "stats" }
  | { kind: "kick"; id: number }
  /** Hold plain replies for client `id` until `/to` alone (`id` undefined) lets them follow again. */
  | { kind: "to"; id: number | undefined }
  | { kind: "end" }
  | { kind: "quit" }
  | { kind: "help" }
  | { kind: "none" }
  | { kind: "invalid"; message: string };

/** Shown by `/help`. */
export const OPERATOR_HELP = [
  "text        reply to the client that sent the last line (the prompt shows who: #3>)",
  "@ID text    send to client ID",
  "/all text   send to every client",
  "/list       show connected clients",
  "/stats      show the server's numbers (as /metrics of --admin counts them)",
  "/kick ID    disconnect client ID",
  "/to ID      hold plain replies for client ID (the prompt shows @ID>); /to alone follows the last sender again",
  ".           end the conversation with the current client",
  "/quit       shut the server down gracefully",
  "/help       show this help",
  "//text      send a line that starts with / (likewise @@ for @, and .. for a lone .)",
].join("\n");

function clientId(text: string): number | undefined {
  return /^[1-9]\d{0,15}$/.test(text) ? Number(text) : undefined;
}

/** Parses one operator line. */
export function parseOperatorCommand(line: string): OperatorCommand {
  if (line === "") return { kind: "none" };
  if (line === ".") return { kind: "end" };
  // "..", "...": a line of dots, one fewer than typed, since a lone "." ends the conversation.
  if (/^\.\.+$/.test(line)) return { kind: "reply", text: line.slice(1) };
  if (line.startsWith("//") || line.startsWith("@@")) return { kind: "reply", text: line.slice(1) };
  if (line.startsWith("@")) {
    const space = line.indexOf(" ");
    const target = space === -1 ? line : line.slice(0, space);
    const id = clientId(target.slice(1));
    if (id === undefined) {
      return { kind: "invalid", message: `"${target}" is not a client id: write @ID text (see /list)` };
    }
    const text = space === -1 ? "" : line.slice(space + 1);
    if (text === "") return { kind: "invalid", message: `nothing to send: write @${id} text` };
    return { kind: "send", id, text };
  }
  if (!line.startsWith("/")) return { kind: "reply", text: line };
  const space = line.indexOf(" ");
  const verb = space === -1 ? line : line.slice(0, space);
  const rest = space === -1 ? "" : line.slice(space + 1);
  switch (verb) {
    case "/all":
      return rest === ""
        ? { kind: "invalid", message: "nothing to send: write /all text" }
        : { kind: "all", text: rest };
    case "/list":
      return { kind: "list" };
    case "/stats":
      return { kind: "stats" };
    case "/help":
      return { kind: "help" };
    case "/quit":
      return { kind: "quit" };
    case "/to": {
      if (rest.trim() === "") return { kind: "to", id: undefined };
      const id = clientId(rest.trim());
      return id === undefined
        ? { kind: "invalid", message: "usage: /to ID, or /to alone (see /list)" }
        : { kind: "to", id };
    }
    case "/kick": {
      const id = clientId(rest.trim());
      return id === undefined
        ? { kind: "invalid", message: "usage: /kick ID (see /list)" }
        : { kind: "kick", id };
    }
    default:
      return {
        kind: "invalid",
        message: `unknown command ${verb}; /help lists them (//text sends a line starting with /)`,
      };
  }
}

/** The longest ban or mute, in minutes: a year. */
export const MAX_MINUTES = 525_600;
/** How long `/mute` lasts when no minutes are given. */
export const MUTE_MINUTES = 10;
/** How long `/ban` lasts when no minutes are given. */
export const BAN_MINUTES = 60;

/** What one line typed by the operator of a chat asks for. */
export type ChatOperatorCommand =
  /** Says `text` as `operator` in `room` (the operator's current room when none is named). */
  | { kind: "say"; room?: string; text: string }
  | { kind: "join"; room: string }
  | { kind: "kick"; name: string; reason: string }
  | { kind: "mute"; name: string; minutes: number }
  | { kind: "unmute"; name: string }
  /** `target` is a name, or an address or CIDR block (`address` true). */
  | { kind: "ban"; target: string; address: boolean; minutes: number }
  | { kind: "unban"; entry: string }
  | { kind: "bans" }
  | { kind: "rooms" }
  | { kind: "who"; room?: string }
  | { kind: "list" }
  | { kind: "stats" }
  | { kind: "quit" }
  | { kind: "help" }
  | { kind: "none" }
  | { kind: "invalid"; message: string };

/** Shown by `/help` in chat mode. */
export const CHAT_OPERATOR_HELP = [
  "text                  say it in your current room, as operator (the prompt shows the room)",
  "#ROOM text            say it in #ROOM",
  "/join #ROOM           make #ROOM your current room",
  "/kick NAME [REASON]   disconnect NAME, wherever it is connected; its rooms are told",
  `/mute NAME [MINUTES]  NAME may not speak for MINUTES (${MUTE_MINUTES}); /unmute NAME lifts it`,
  `/ban NAME|CIDR [MIN]  disconnect NAME and refuse its address (or an address, a block) for MIN (${BAN_MINUTES})`,
  "/unban CIDR           lift a ban; /bans lists them",
  "/rooms, /who [#ROOM]  the rooms, and who is in one",
  "/list                 this server's clients: id, name, address, rooms, lines, throttled",
  "/stats                the server's numbers (as /metrics of --admin counts them)",
  "/quit                 shut the server down gracefully",
  "//text                say a line that starts with /",
].join("\n");

/** `text` as a number of minutes, 1 to {@linkcode MAX_MINUTES}; `fallback` when empty. */
function minutesOf(text: string, fallback: number): number | undefined {
  if (text === "") return fallback;
  const minutes = /^\d{1,6}$/.test(text) ? Number(text) : NaN;
  return minutes >= 1 && minutes <= MAX_MINUTES ? minutes : undefined;
}

/** Whether `text` is written as an address or a CIDR block rather than a name. */
function looksLikeAddress(text: string): boolean {
  return /^[\d.]+(\/\d+)?$/.test(text) || text.includes(":");
}

/** Parses one line the operator of a chat typed. */
export function parseChatOperatorCommand(line: string): ChatOperatorCommand {
  const text = line.trim();
  if (text === "") return { kind: "none" };
  if (text.startsWith("//")) return { kind: "say", text: text.slice(1) };
  if (text.startsWith("#")) {
    const space = text.indexOf(" ");
    if (space === -1) return { kind: "invalid", message: `nothing to say: write ${text} text` };
    return { kind: "say", room: text.slice(0, space), text: text.slice(space + 1).trim() };
  }
  if (!text.startsWith("/")) return { kind: "say", text };
  const [verb, ...words] = text.split(/\s+/);
  const [first = "", second = ""] = words;
  const usage = (form: string): ChatOperatorCommand => ({ kind: "invalid", message: `usage: ${form}` });
  switch (verb.toLowerCase()) {
    case "/join":
      return first.startsWith("#") && words.length === 1
        ? { kind: "join", room: first }
        : usage("/join #ROOM");
    case "/kick":
      return first === ""
        ? usage("/kick NAME [REASON]")
        : { kind: "kick", name: first, reason: words.slice(1).join(" ") };
    case "/mute": {
      const minutes = minutesOf(second, MUTE_MINUTES);
      return first === "" || minutes === undefined || words.length > 2
        ? usage(`/mute NAME [MINUTES] (1-${MAX_MINUTES})`)
        : { kind: "mute", name: first, minutes };
    }
    case "/unmute":
      return words.length === 1 ? { kind: "unmute", name: first } : usage("/unmute NAME");
    case "/ban": {
      const minutes = minutesOf(second, BAN_MINUTES);
      return first === "" || minutes === undefined || words.length > 2
        ? usage(`/ban NAME|ADDRESS|CIDR [MINUTES] (1-${MAX_MINUTES})`)
        : { kind: "ban", target: first, address: looksLikeAddress(first), minutes };
    }
    case "/unban":
      return words.length === 1 ? { kind: "unban", entry: first } : usage("/unban ADDRESS|CIDR");
    case "/bans":
      return { kind: "bans" };
    case "/rooms":
      return { kind: "rooms" };
    case "/who":
      return words.length > 1 ? usage("/who [#ROOM]") : { kind: "who", room: first || undefined };
    case "/list":
      return { kind: "list" };
    case "/stats":
      return { kind: "stats" };
    case "/quit":
      return { kind: "quit" };
    case "/help":
      return { kind: "help" };
    default:
      return {
        kind: "invalid",
        message: `unknown command ${verb}; /help lists them (//text says a line starting with /)`,
      };
  }
}

/**
 * Carries out each line the operator types, one after the other, until their input ends (then the
 * server goes on, and says so) or the server shuts down (`signal`).
 */
export async function readOperator(
  operator: Operator,
  options: { logger: Logger; signal: AbortSignal },
  command: (line: string) => void | Promise<void>,
): Promise<void> {
  const { logger, signal } = options;
  try {
    for await (const line of operator.lines) {
      if (signal.aborted) return;
      await command(line);
    }
    if (!signal.aborted) {
      logger.info("console", "operator input ended; still serving (stop with Ctrl+C or SIGTERM)");
    }
  } catch (error) {
    logger.error("console", `operator input failed: ${describeNetError(error)}`);
  }
}
