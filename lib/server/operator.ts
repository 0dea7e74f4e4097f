/**
 * The operator of console mode: what the lines they type mean, and where those lines come from.
 *
 * Parsing is pure, so every command form is unit-tested; carrying commands out is the console
 * mode's job, and where the lines come from (a terminal, a pipe, a test) the caller's.
 */

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
