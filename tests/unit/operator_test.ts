/**
 * The operator's side of console mode, in-process: what each typed line means, and where the
 * console mode sends what the operator types (fake members, a recording terminal).
 */

import { assertEquals, assertMatch } from "../support/assert.ts";
import { createLogger } from "../../lib/log.ts";
import { createConsoleMode } from "../../lib/server/modes/console.ts";
import {
  BAN_MINUTES,
  type ChatOperatorCommand,
  MAX_MINUTES,
  MUTE_MINUTES,
  parseChatOperatorCommand,
  parseOperatorCommand,
} from "../../lib/server/operator.ts";
import { Members } from "../../lib/server/members.ts";
import { bytes, FakeMember } from "../support/fake_member.ts";

Deno.test("operator commands parse into what they ask for", () => {
  const cases: [string, ReturnType<typeof parseOperatorCommand>][] = [
    ["hello there", { kind: "reply", text: "hello there" }],
    ["@12 hi you", { kind: "send", id: 12, text: "hi you" }],
    ["/all attention", { kind: "all", text: "attention" }],
    ["/list", { kind: "list" }],
    ["/kick 3", { kind: "kick", id: 3 }],
    ["/to 3", { kind: "to", id: 3 }],
    ["/to", { kind: "to", id: undefined }],
    [".", { kind: "end" }],
    ["/quit", { kind: "quit" }],
    ["/help", { kind: "help" }],
    ["", { kind: "none" }],
    ["//not a command", { kind: "reply", text: "/not a command" }],
    ["@@handle", { kind: "reply", text: "@handle" }],
    ["..", { kind: "reply", text: "." }],
    ["...", { kind: "reply", text: ".." }],
    ["..not dots", { kind: "reply", text: "..not dots" }],
  ];
  for (const [line, command] of cases) assertEquals(parseOperatorCommand(line), command, line);
});

Deno.test("malformed operator commands explain themselves", () => {
  const cases: [string, string][] = [
    ["@x hi", '"@x" is not a client id: write @ID text (see /list)'],
    ["@0 hi", '"@0" is not a client id: write @ID text (see /list)'],
    ["@ 1 hi", '"@" is not a client id: write @ID text (see /list)'],
    ["@1x y", '"@1x" is not a client id: write @ID text (see /list)'],
    ["@1", "nothing to send: write @1 text"],
    ["@1 ", "nothing to send: write @1 text"],
    ["/all", "nothing to send: write /all text"],
    ["/kick", "usage: /kick ID (see /list)"],
    ["/kick abc", "usage: /kick ID (see /list)"],
    ["/to x", "usage: /to ID, or /to alone (see /list)"],
    ["/frobnicate", "unknown command /frobnicate; /help lists them (//text sends a line starting with /)"],
  ];
  for (const [line, message] of cases) {
    assertEquals(parseOperatorCommand(line), { kind: "invalid", message }, line);
  }
});

/** Console mode over `count` fake members, with what the operator sees collected in `shown`. */
function consoleWith(count: number) {
  const room = new Members<FakeMember>();
  const shown: string[] = [];
  const stop = new AbortController();
  const shutdowns: string[] = [];
  const mode = createConsoleMode({
    members: room,
    operator: { lines: (async function* () {})(), print: (line) => shown.push(...line.split("\n")) },
    shutdown: (reason) => shutdowns.push(reason),
    logger: createLogger({ write: () => {} }),
    signal: stop.signal,
  });
  const members = Array.from({ length: count }, (_, i) => new FakeMember(i + 1));
  for (const member of members) room.add(member);
  const say = (member: FakeMember, text: string) => {
    member.linesIn++;
    mode.line(member, bytes(text));
  };
  return { room, mode, members, shown, shutdowns, say };
}

Deno.test("the operator sees each line escaped, and a plain reply goes to whoever spoke last", () => {
  const { mode, members: [a, b], shown, say } = consoleWith(2);
  say(a, "hello \x1b[2J");
  assertMatch(shown.at(-1)!, /^\[\d\d:\d\d:\d\d\.\d{3}\] #1 127\.0\.0\.1:5001 > hello \\e\[2J$/);
  mode.command("hi one");
  say(b, "me too");
  mode.command("hi two");
  assertEquals(a.take(), ["hi one"]);
  assertEquals(b.take(), ["hi two"]);
});

Deno.test("@ID, /all and // route as they say; unknown ids send nothing", () => {
  const { mode, members: [a, b], shown } = consoleWith(2);
  mode.command("@2 direct");
  mode.command("/all everyone");
  mode.command("@9 nobody");
  assertEquals(a.take(), ["everyone"]);
  assertEquals(b.take(), ["direct", "everyone"]);
  assertEquals(shown, ["! no client #9; /list shows who is connected; nothing sent"]);
});

Deno.test("with nobody to reply to, a plain line is refused with the reason", () => {
  const { mode, members: [a, b], shown, say } = consoleWith(2);
  mode.command("anyone?");
  say(a, "hi");
  mode.command(".");
  mode.leave(a, "operator ended the conversation");
  mode.command("still there?");
  say(b, "me");
  mode.leave(b, "client closed");
  mode.command("and you?");
  assertEquals(shown.filter((line) => line.startsWith("!")), [
    "! no current client (no one has sent a line yet); use @ID text or /all text",
    "! no current client (#1 left: operator ended the conversation); use @ID text or /all text",
    "! no current client (#2 left: client closed); use @ID text or /all text",
  ]);
});

Deno.test("the prompt names the client a plain reply goes to", () => {
  const prompts: string[] = [];
  const room = new Members<FakeMember>();
  const mode = createConsoleMode({
    members: room,
    operator: { lines: (async function* () {})(), print: () => {}, prompt: (text) => prompts.push(text) },
    shutdown: () => {},
    logger: createLogger({ write: () => {} }),
    signal: new AbortController().signal,
  });
  const [a, b] = [new FakeMember(1), new FakeMember(2)];
  mode.line(a, bytes("one"));
  mode.line(a, bytes("again"));
  mode.line(b, bytes("two"));
  mode.leave(b, "client closed");
  assertEquals(prompts, ["#1> ", "#2> ", "> "]);
});

Deno.test("a client that half-closes stays open for the operator's answer", () => {
  const { mode, members: [a], shown, say } = consoleWith(1);
  say(a, "a question, and that is all");
  assertEquals(mode.ended?.(a), "keep open");
  assertEquals(shown.at(-1), "! #1 has finished sending; answer it, or . to end the conversation");
  mode.command("the answer");
  assertEquals(a.take(), ["the answer"]);
  assertEquals(a.closed, undefined);
});

Deno.test(". and /kick close with a farewell; a client's . ends its own conversation", () => {
  const { mode, members: [a, b, c], say } = consoleWith(3);
  say(a, "hi");
  mode.command(".");
  assertEquals(a.closed, {
    reason: "operator ended the conversation",
    farewell: "* the operator ended the conversation",
  });
  mode.command("/kick 2");
  assertEquals(b.closed, { reason: "kicked by operator", farewell: "* disconnected by the operator" });
  say(c, ".");
  assertEquals(c.closed, { reason: "client ended the conversation", farewell: undefined });
});

Deno.test("/list marks the current client; /quit asks for a shutdown", () => {
  const { mode, members: [a, b], shown, shutdowns, say } = consoleWith(2);
  say(b, "one");
  say(b, "two");
  mode.command("/list");
  assertMatch(shown[2], /^ ID +ADDRESS +VIA +SINCE +IN +OUT$/);
  assertMatch(shown[3], /^ #1 +127\.0\.0\.1:5001 +tcp +\d\d:\d\d:\d\d\.\d{3} +0 +0$/);
  assertMatch(shown[4], /^\*#2 +127\.0\.0\.1:5002 +tcp +\d\d:\d\d:\d\d\.\d{3} +2 +0$/);
  mode.command("/quit");
  assertEquals(shutdowns, ["operator /quit"]);
  assertEquals([a.closed, b.closed], [undefined, undefined]);
});

Deno.test("/to ID holds plain replies for that client while others speak; /to alone follows again", () => {
  const prompts: string[] = [];
  const room = new Members<FakeMember>();
  const shown: string[] = [];
  const mode = createConsoleMode({
    members: room,
    operator: {
      lines: (async function* () {})(),
      print: (line) => shown.push(line),
      prompt: (text) => prompts.push(text),
    },
    shutdown: () => {},
    logger: createLogger({ write: () => {} }),
    signal: new AbortController().signal,
  });
  const [a, b] = [new FakeMember(1), new FakeMember(2)];
  room.add(a);
  room.add(b);
  mode.line(a, bytes("one"));
  mode.command("/to 1");
  mode.line(b, bytes("interrupting"));
  mode.command("the reply I was typing");
  assertEquals(a.take(), ["the reply I was typing"], "held: the line from #2 did not move it");
  assertEquals(b.take(), []);
  mode.command("/to 9");
  mode.command("/to");
  mode.line(b, bytes("again"));
  mode.command("now to you");
  assertEquals(b.take(), ["now to you"]);
  mode.command("/to 1");
  mode.leave(a, "client closed");
  mode.command("to nobody");
  assertEquals(prompts, ["#1> ", "@1> ", "#1> ", "#2> ", "@1> ", "> "]);
  assertEquals(shown.filter((line) => line.startsWith("!")), [
    "! no client #9; /list shows who is connected",
    "! plain replies follow the last sender again",
    "! no current client (#1 left: client closed); use @ID text or /all text",
  ]);
});

Deno.test("a chat operator's lines: speech, rooms, moderation with minutes, and every misuse named", () => {
  const cases: [string, ChatOperatorCommand][] = [
    ["hello all", { kind: "say", text: "hello all" }],
    ["#rust hi there", { kind: "say", room: "#rust", text: "hi there" }],
    ["//etc", { kind: "say", text: "/etc" }],
    ["   ", { kind: "none" }],
    ["/join #rust", { kind: "join", room: "#rust" }],
    ["/kick bob", { kind: "kick", name: "bob", reason: "" }],
    ["/KICK bob off topic", { kind: "kick", name: "bob", reason: "off topic" }],
    ["/mute bob", { kind: "mute", name: "bob", minutes: MUTE_MINUTES }],
    ["/mute bob 5", { kind: "mute", name: "bob", minutes: 5 }],
    ["/unmute bob", { kind: "unmute", name: "bob" }],
    ["/ban bob", { kind: "ban", target: "bob", address: false, minutes: BAN_MINUTES }],
    ["/ban 10.0.0.0/8 30", { kind: "ban", target: "10.0.0.0/8", address: true, minutes: 30 }],
    ["/ban ::1", { kind: "ban", target: "::1", address: true, minutes: BAN_MINUTES }],
    ["/unban 10.0.0.0/8", { kind: "unban", entry: "10.0.0.0/8" }],
    ["/bans", { kind: "bans" }],
    ["/rooms", { kind: "rooms" }],
    ["/who", { kind: "who", room: undefined }],
    ["/who #go", { kind: "who", room: "#go" }],
    ["/list", { kind: "list" }],
    ["/stats", { kind: "stats" }],
    ["/quit", { kind: "quit" }],
    ["/help", { kind: "help" }],
  ];
  for (const [line, command] of cases) assertEquals(parseChatOperatorCommand(line), command, line);
  const invalid: [string, string][] = [
    ["#rust", "nothing to say: write #rust text"],
    ["/join rust", "usage: /join #ROOM"],
    ["/kick", "usage: /kick NAME [REASON]"],
    ["/mute bob 0", `usage: /mute NAME [MINUTES] (1-${MAX_MINUTES})`],
    ["/mute bob 525601", `usage: /mute NAME [MINUTES] (1-${MAX_MINUTES})`],
    ["/mute bob 5 more", `usage: /mute NAME [MINUTES] (1-${MAX_MINUTES})`],
    ["/ban", `usage: /ban NAME|ADDRESS|CIDR [MINUTES] (1-${MAX_MINUTES})`],
    ["/ban bob soon", `usage: /ban NAME|ADDRESS|CIDR [MINUTES] (1-${MAX_MINUTES})`],
    ["/unban", "usage: /unban ADDRESS|CIDR"],
    ["/who #a #b", "usage: /who [#ROOM]"],
    ["/dance", "unknown command /dance; /help lists them (//text says a line starting with /)"],
  ];
  for (const [line, message] of invalid) {
    assertEquals(parseChatOperatorCommand(line), { kind: "invalid", message }, line);
  }
});
