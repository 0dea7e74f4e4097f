/**
 * Chat mode in-process, against fake members, the in-memory registry and a recording relay: what
 * each client sees, names and their races, and what crosses to other rooms.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { MemoryRegistry } from "../../lib/registry/memory.ts";
import type { Holder, NameEvents, Names } from "../../lib/registry/registry.ts";
import type { LineKind, Relay, RelayHandlers, RoomLine } from "../../lib/relay/relay.ts";
import type { History, HistorySnapshot } from "../../lib/history/history.ts";
import { MemoryHistory } from "../../lib/history/memory.ts";
import { createChatMode, LINK_BACK, LINK_LOST } from "../../lib/server/modes/chat.ts";
import type { Mode } from "../../lib/server/modes/mode.ts";
import { Members } from "../../lib/server/members.ts";
import { Bans } from "../../lib/server/access_list.ts";
import { bytes, FakeMember } from "../support/fake_member.ts";

/** The names `names` lists, in its order. */
async function listed(
  names: { list(): { name: string }[] | Promise<{ name: string }[]> },
): Promise<string[]> {
  return (await names.list()).map(({ name }) => name);
}

const decoder = new TextDecoder();

/** A room of `count` members joined in order, each with what it received so far taken. */
async function room(
  count: number,
  names: Names = new MemoryRegistry().names,
  relay?: Relay,
  history?: History,
) {
  const room = new Members<FakeMember>();
  // Joins announced at once here: the grace before a join is told is the test of its own below.
  const mode = createChatMode({ members: room, names, relay, history, settleMs: 0 });
  const members: FakeMember[] = [];
  for (let id = 1; id <= count; id++) members.push(await join(room, mode, id));
  for (const member of members) member.take();
  return { room, mode, members };
}

async function join(room: Members<FakeMember>, mode: Mode, id: number): Promise<FakeMember> {
  const member = new FakeMember(id);
  room.add(member);
  await mode.join(member);
  return member;
}

async function say(mode: Mode, member: FakeMember, text: string): Promise<void> {
  member.linesIn++;
  await mode.line(member, bytes(text));
}

Deno.test("a newcomer is welcomed with the count, and the others are told", async () => {
  const { room: r, mode, members: [alice, bob] } = await room(2);
  const carol = await join(r, mode, 3);
  assertEquals(carol.take(), ["* welcome, user3: 3 online; /help for commands"]);
  assertEquals(alice.take(), ["* user3 joined"]);
  assertEquals(bob.take(), ["* user3 joined"]);
});

Deno.test("a line goes to everyone else with the sender's name; // says a line starting with /", async () => {
  const { mode, members: [a, b, c] } = await room(3);
  await say(mode, a, "hello");
  await say(mode, a, "//etc/passwd is a path");
  assertEquals(a.take(), []);
  for (const other of [b, c]) assertEquals(other.take(), ["<user1> hello", "<user1> /etc/passwd is a path"]);
});

Deno.test("/nick renames and announces; taken, reserved and invalid names are refused", async () => {
  const { mode, members: [a, b] } = await room(2);
  await say(mode, a, "/nick Alice");
  assertEquals(a.take(), ["* you are now Alice"]);
  assertEquals(b.take(), ["* user1 is now Alice"]);
  for (const name of ["alice", "ALICE"]) await say(mode, b, `/nick ${name}`);
  await say(mode, b, "/nick user9");
  await say(mode, b, "/nick two words");
  await say(mode, b, "/nick");
  assertEquals(b.take(), [
    "ERR name alice is taken",
    "ERR name ALICE is taken",
    "ERR name user9 is reserved",
    'ERR invalid name "two words": use 1-32 letters, digits, - or _ (any one script)',
    "ERR usage: /nick NAME (1-32 letters, digits, - or _ (any one script))",
  ]);
  assertEquals(a.take(), [], "failed renames are not announced");
  await say(mode, a, "/nick alice");
  assertEquals(a.take(), ["* you are now alice"], "the holder may change the case of its own name");
  assertEquals(b.take(), ["* Alice is now alice"]);
});

Deno.test("/nick takes names of any script in NFC, and refuses one that passes for a taken name", async () => {
  const { mode, members: [a, b] } = await room(2);
  await say(mode, a, "/nick Jose\u0301");
  await say(mode, b, "/nick 李");
  assertEquals(a.take(), ["* you are now José", "* user2 is now 李"]);
  for (const name of ["JOSÉ", "ｊｏｓé", "p\u0430ypal", "Operator", "user1OO2"]) {
    await say(mode, b, `/nick ${name}`);
  }
  assertEquals(b.take(), [
    "* user1 is now José",
    "* you are now 李",
    "ERR name JOSÉ is taken",
    "ERR name ｊｏｓé is taken",
    'ERR invalid name "p\u0430ypal": it mixes scripts (Latin, Cyrillic); use one',
    "ERR name Operator is reserved",
    "ERR name user1OO2 is reserved",
  ]);
  await say(mode, b, "/who");
  assertEquals(b.take(), ["* online: José, 李"]);
});

Deno.test("/who lists everyone in the order they joined, whatever their names now", async () => {
  const { mode, members: [a, b, c] } = await room(3);
  await say(mode, c, "/nick zed");
  await say(mode, a, "/nick bob");
  await say(mode, b, "/who");
  assertEquals(b.take().at(-1), "* online: bob, user2, zed");
});

Deno.test("a leave is announced to those left, and frees the name for someone else", async () => {
  const { mode, members: [a, b, c] } = await room(3);
  await say(mode, a, "/nick alice");
  b.take();
  c.take();
  mode.leave(a, "client closed");
  assertEquals(b.take(), ["* alice left"]);
  assertEquals(c.take(), ["* alice left"]);
  await say(mode, b, "/nick Alice");
  assertEquals(b.take(), ["* you are now Alice"]);
});

Deno.test("/help explains, an unknown command says so; neither reaches the others", async () => {
  const { mode, members: [a, b] } = await room(2);
  await say(mode, a, "/help");
  await say(mode, a, "/dance now");
  const [help, unknown] = a.take();
  assertMatch(
    help,
    /^\* commands: \/nick NAME .*\/who \[#ROOM\], \/me TEXT, \/msg NAME TEXT, \/join #ROOM, \/part \[#ROOM\], \/rooms, \/topic \[#ROOM\] \[TEXT\], \/quit \[REASON\], \/help, \/session and \/resume/,
  );
  assertEquals(unknown, "ERR unknown command /dance; try /help");
  assertEquals(b.take(), []);
});

/** Names whose every answer comes a little later, as from another machine; answered in order. */
class SlowNames implements Names {
  #names = new MemoryRegistry().names;
  claim(name: string, owner: number): Promise<boolean> {
    return this.#later(() => this.#names.claim(name, owner) as boolean);
  }
  release(name: string, owner: number): Promise<void> {
    return this.#later(() => this.#names.release(name, owner) as void);
  }
  list(): Promise<Holder[]> {
    return this.#later(() => this.#names.list() as Holder[]);
  }
  count(): Promise<number> {
    return this.#later(() => this.#names.count() as number);
  }
  holder(name: string): Promise<number | undefined> {
    return this.#later(() => this.#names.holder(name) as number | undefined);
  }
  #later<T>(answer: () => T): Promise<T> {
    return new Promise((resolve) => setTimeout(() => resolve(answer()), 1));
  }
}

Deno.test("with a registry that answers later, of two members racing for a name exactly one wins", async () => {
  const { mode, members: [a, b, c] } = await room(3, new SlowNames());
  await Promise.all([say(mode, a, "/nick bob"), say(mode, b, "/nick Bob")]);
  const [winner, loser] = a.received[0].startsWith("* you are now") ? [a, b] : [b, a];
  const won = winner === a ? "bob" : "Bob";
  assertEquals(winner.take(), [`* you are now ${won}`]);
  assertEquals(loser.take().sort(), [
    `* user${winner.id} is now ${won}`,
    `ERR name ${winner === a ? "Bob" : "bob"} is taken`,
  ]);
  assertEquals(c.take(), [`* user${winner.id} is now ${won}`]);
});

Deno.test("a member that leaves while its rename is pending does not keep the name", async () => {
  const names = new SlowNames();
  const { mode, members: [a, b] } = await room(2, names);
  const renaming = say(mode, a, "/nick ghost");
  mode.leave(a, "client closed");
  await renaming;
  assertEquals(await listed(names), ["user2"]);
  assertEquals(b.take(), ["* user1 left"]);
});

/** A relay that records what is published and lets the test deliver lines from elsewhere. */
class RecordingRelay implements Relay {
  published: string[] = [];
  /** Private lines, with their recipient. */
  privately: { line: string; to?: number }[] = [];
  deliver: (line: RoomLine) => void = () => {};
  link: (up: boolean) => void = () => {};
  open(handlers: RelayHandlers): void {
    this.deliver = handlers.deliver;
    this.link = handlers.link!;
  }
  /** Rooms entered and left, in order (`+#rust`, `-#rust`). */
  rooms: string[] = [];
  /** Control lines, with their recipient. */
  controls: { line: string; to?: number }[] = [];
  publish(line: string | Uint8Array, kind: LineKind, to: string | number): void {
    const text = typeof line === "string" ? line : decoder.decode(line);
    if (kind === "private") this.privately.push({ line: text, to: to as number });
    else if (kind === "control") this.controls.push({ line: text, to: to as number });
    else this.published.push(to === "#parley" ? text : `${to} ${text}`);
  }
  enter(room: string): void {
    this.rooms.push(`+${room}`);
  }
  leave(room: string): void {
    this.rooms.push(`-${room}`);
  }
  close(): void {}
}

Deno.test("what one room says goes to the relay; what the relay delivers reaches everyone here", async () => {
  const relay = new RecordingRelay();
  const { mode, members: [a, b] } = await room(2, undefined, relay);
  await say(mode, a, "across");
  assertEquals(relay.published, ["* user1 joined", "* user2 joined", "<user1> across"]);
  relay.deliver({ line: bytes("<elsewhere> hi all"), kind: "said", room: "#parley" });
  assertEquals(a.take(), ["<elsewhere> hi all"]);
  assertEquals(b.take(), ["<user1> across", "<elsewhere> hi all"]);
});

Deno.test("the link to the other servers going down and coming back is told to everyone here", async () => {
  const relay = new RecordingRelay();
  const { members: [a, b] } = await room(2, undefined, relay);
  relay.link(false);
  relay.link(true);
  for (const member of [a, b]) assertEquals(member.take(), [LINK_LOST, LINK_BACK]);
});

Deno.test("a newcomer first gets the last lines said, marked as history with their times, then the welcome", async () => {
  const history = new MemoryHistory(2);
  const relay = new RecordingRelay();
  const { room: r, mode, members: [a] } = await room(1, undefined, relay, history);
  await say(mode, a, "one");
  await say(mode, a, "/nick ann");
  await say(mode, a, "two \x1b]0;title\x07");
  relay.deliver({ line: bytes("* somebody joined"), kind: "notice", room: "#parley" });
  relay.deliver({ line: bytes("<far> three"), kind: "said", room: "#parley" });
  const before = Date.now();
  const b = await join(r, mode, 2);
  const lines = b.take();
  const pattern = /^\* history (\S+) (.*)$/;
  assertEquals(lines.map((line) => pattern.exec(line)?.[2] ?? line), [
    "<ann> two \\e]0;title\\x07",
    "<far> three",
    "* welcome, user2: 2 online; /help for commands",
  ]);
  for (const line of lines.slice(0, 2)) {
    const at = Date.parse(pattern.exec(line)![1]);
    assert.ok(at <= Date.now() && before - at < 1000, "the time it was said");
  }
});

/** A history that answers when the test says, as one in Redis would; it holds marks m1 and m2. */
class LateHistory implements History {
  #waiting: ((snapshot: HistorySnapshot) => void)[] = [];
  record(): void {}
  recent(): Promise<HistorySnapshot> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
  /** Answers the oldest question with `entries`. */
  answer(entries: string[]): void {
    const held = new Set(["m1", "m2"]);
    this.#waiting.shift()!({
      entries: entries.map((line) => ({ at: 0, line })),
      holds: ({ mark }) => mark !== undefined && held.has(mark),
    });
  }
}

Deno.test("what is said while a newcomer's history is fetched reaches it once, after the history", async () => {
  const history = new LateHistory();
  const relay = new RecordingRelay();
  const r = new Members<FakeMember>();
  const mode = createChatMode({ members: r, names: new MemoryRegistry().names, relay, history, settleMs: 0 });
  const a = new FakeMember(1);
  r.add(a);
  const aJoined = mode.join(a);
  history.answer([]);
  await aJoined;
  const c = new FakeMember(3);
  r.add(c);
  const cJoined = mode.join(c);
  // While c waits: a line from elsewhere the history holds (m2), one it does not (m3), one said here.
  relay.deliver({ line: bytes("<far> in the history"), kind: "said", room: "#parley", mark: "m2" });
  relay.deliver({ line: bytes("<far> after it"), kind: "said", room: "#parley", mark: "m3" });
  await say(mode, a, "said here meanwhile");
  assertEquals(c.take(), [], "nothing before the history");
  history.answer(["<far> in the history"]);
  await cJoined;
  assertEquals(c.take(), [
    "* history 1970-01-01T00:00:00.000Z <far> in the history",
    "* welcome, user3: 2 online; /help for commands",
    "<far> after it",
    "<user1> said here meanwhile",
  ]);
  assertEquals(a.take().slice(-2), ["<far> after it", "* user3 joined"]);
});

/** In-memory names that let the test play the registry's news from other servers. */
class NewsyNames implements Names {
  #names = new MemoryRegistry().names;
  events: NameEvents | undefined;
  claim(name: string, owner: number) {
    return this.#names.claim(name, owner);
  }
  release(name: string, owner: number) {
    return this.#names.release(name, owner);
  }
  list() {
    return this.#names.list();
  }
  count() {
    return this.#names.count();
  }
  holder(name: string) {
    return this.#names.holder(name);
  }
  watch(events: NameEvents): void {
    this.events = events;
  }
  /** Takes `name` from its holder, as an earlier claim elsewhere would. */
  take(name: string, owner: number): void {
    this.#names.release(name, owner);
    this.events!.lost(name, owner);
  }
}

Deno.test("a name lost to an earlier claim elsewhere: its holder becomes user<ID>, is told why, and so are the others", async () => {
  const names = new NewsyNames();
  const relay = new RecordingRelay();
  const { mode, members: [a, b] } = await room(2, names, relay);
  await say(mode, a, "/nick zed");
  a.take();
  b.take();
  names.take("zed", 1);
  assertMatch(a.take().join(), /^\* zed was taken elsewhere, by an earlier claim, .*; you are now user1$/);
  assertEquals(b.take(), ["* zed is now user1"]);
  assertEquals(relay.published.at(-1), "* zed is now user1");
  assertEquals(await listed(names), ["user1", "user2"]);
});

Deno.test("clients of a server that died are announced here and to the other servers; returning ones only there", async () => {
  const names = new NewsyNames();
  const relay = new RecordingRelay();
  const { members: [a] } = await room(1, names, relay);
  names.events!.departed(["dave", "erin"]);
  assertEquals(a.take(), ["* dave left", "* erin left"]);
  assertEquals(relay.published.slice(-2), ["* dave left", "* erin left"]);
  names.events!.returned(["user1"]);
  assertEquals(a.take(), []);
  assertEquals(relay.published.at(-1), "* user1 joined");
});

Deno.test("a dead server's client is announced gone in the rooms it was in, where they are known", async () => {
  const names = new NewsyNames();
  const { mode, members: [a, b] } = await room(2, names, new RecordingRelay());
  await say(mode, b, "/join #rust");
  b.take();
  a.take();
  names.events!.departed(["far", "wide"], new Map([["far", ["#RUST"]]]));
  assertEquals(a.take(), ["* wide left"], "far was in #rust only; where wide was is not known");
  assertEquals(b.take(), ["#rust * far left", "#parley * wide left", "#rust * wide left"]);
});

Deno.test("history a newcomer is sent is capped in bytes: the newest lines that fit", async () => {
  const history = new MemoryHistory(10);
  const r = new Members<FakeMember>();
  const mode = createChatMode({
    members: r,
    names: new MemoryRegistry().names,
    history,
    historyBytes: 150,
    settleMs: 0,
  });
  const a = new FakeMember(1);
  r.add(a);
  await mode.join(a);
  for (const text of ["first line", "second line", "third line", "fourth line"]) await say(mode, a, text);
  const b = new FakeMember(2);
  r.add(b);
  await mode.join(b);
  const lines = b.take();
  // Each entry is `* history <24-character time> <user1> text`: about 55 bytes; 150 hold two.
  assertEquals(lines.map((line) => line.replace(/^\* history \S+ /, "")), [
    "<user1> third line",
    "<user1> fourth line",
    "* welcome, user2: 2 online; /help for commands",
  ]);
});

Deno.test("a join is told once the newcomer settles: at its first line or after the grace; one gone before, never", async () => {
  const r = new Members<FakeMember>();
  const mode = createChatMode({ members: r, names: new MemoryRegistry().names, settleMs: 80 });
  const old = await join(r, mode, 1);
  await new Promise((resolve) => setTimeout(resolve, 100));
  old.take();
  // A TLS client that refuses the certificate: welcomed, then gone within milliseconds.
  const probe = await join(r, mode, 2);
  r.delete(probe);
  mode.leave(probe, "client closed");
  // One that speaks at once is told before its line.
  const talker = await join(r, mode, 3);
  await say(mode, talker, "hello");
  // One that stays quiet is told after the grace.
  await join(r, mode, 4);
  assertEquals(old.take(), ["* user3 joined", "<user3> hello"]);
  await new Promise((resolve) => setTimeout(resolve, 120));
  assertEquals(old.take(), ["* user4 joined"], "and of user2, neither its join nor its leave");
});

Deno.test("commands are case-insensitive, and each used wrongly gets its usage", async () => {
  const { mode, members: [a, b] } = await room(2);
  await say(mode, a, "/NICK Ann");
  await say(mode, a, "/Who");
  await say(mode, a, "/nick");
  await say(mode, a, "/who is here");
  await say(mode, a, "/me");
  await say(mode, a, "/ME   ");
  assertEquals(a.take(), [
    "* you are now Ann",
    "* online: Ann, user2",
    "ERR usage: /nick NAME (1-32 letters, digits, - or _ (any one script))",
    "ERR usage: /who [#ROOM]",
    "ERR usage: /me TEXT (an action: * NAME TEXT)",
    "ERR usage: /me TEXT (an action: * NAME TEXT)",
  ]);
  assertEquals(b.take(), ["* user1 is now Ann"]);
});

Deno.test("/me says an action, escaped, kept in the history; an empty line says nothing", async () => {
  const history = new MemoryHistory(5);
  const { mode, members: [a, b] } = await room(2, undefined, undefined, history);
  await say(mode, a, "/me waves \x1b[2J");
  await say(mode, a, "");
  await say(mode, a, "  \t ");
  assertEquals(b.take(), ["* user1 waves \\e[2J"]);
  assertEquals(a.take(), [], "an action is not sent back, as a line is not");
  const snapshot = await history.recent("#parley");
  assertEquals(snapshot.entries.map((entry) => decoder.decode(entry.line as Uint8Array)), [
    "* user1 waves \\e[2J",
  ]);
});

Deno.test("/quit closes with a goodbye, and the others hear the reason, escaped", async () => {
  const r = new Members<FakeMember>();
  const mode = createChatMode({ members: r, names: new MemoryRegistry().names, settleMs: 0 });
  const [a, b] = [await join(r, mode, 1), await join(r, mode, 2)];
  a.take();
  b.take();
  await say(mode, a, "/quit lunch \x07time");
  assertEquals(a.closed, { reason: "client ended the conversation", farewell: "* bye" });
  r.delete(a);
  mode.leave(a, "client ended the conversation");
  assertEquals(b.take(), ["* user1 left (lunch \\x07time)"]);
  const c = await join(r, mode, 3);
  await say(mode, c, "/QUIT");
  r.delete(c);
  mode.leave(c, "client ended the conversation");
  assertEquals(b.take(), ["* user3 joined", "* user3 left"]);
});

Deno.test("/msg reaches its recipient alone, marked private on both sides; an unknown name is an error", async () => {
  const { mode, members: [a, b, c] } = await room(3);
  await say(mode, b, "/nick bob");
  a.take();
  c.take();
  b.take();
  await say(mode, a, "/msg BOB psst \x1b[2J");
  assertEquals(b.take(), ["* private from user1: psst \\e[2J"]);
  assertEquals(a.take(), ["* private to BOB: psst \\e[2J"]);
  assertEquals(c.take(), [], "nobody else hears it");
  await say(mode, a, "/msg nobody hello");
  await say(mode, a, "/msg bob");
  await say(mode, a, "/MSG");
  assertEquals(a.take(), [
    "ERR no such name nobody",
    "ERR usage: /msg NAME TEXT (a private message)",
    "ERR usage: /msg NAME TEXT (a private message)",
  ]);
});

Deno.test("/msg to a name held elsewhere goes through the relay to its holder's id; one delivered is for that id only", async () => {
  const names = new MemoryRegistry().names;
  const relay = new RecordingRelay();
  const { mode, members: [a, b] } = await room(2, names, relay);
  // Someone served elsewhere holds "far" as connection 99.
  names.claim("far", 99);
  await say(mode, a, "/msg far over there");
  assertEquals(relay.privately, [{ line: "* private from user1: over there", to: 99 }]);
  assertEquals(a.take(), ["* private to far: over there"]);
  relay.deliver({ line: bytes("* private from far: back"), kind: "private", to: 2 });
  assertEquals(b.take(), ["* private from far: back"]);
  assertEquals(a.take(), [], "a private line is for its recipient only");
});

Deno.test("/join enters a room and makes it current; a room's lines reach only its members, marked for those in several", async () => {
  const { mode, members: [a, b, c] } = await room(3);
  await say(mode, a, "/join #Rust");
  assertEquals(a.take(), ["* joined #Rust: 1 here; your lines go there now"]);
  assertEquals([b.take(), c.take()], [[], []], "nobody else is in #Rust");
  await say(mode, b, "/JOIN #rust");
  assertEquals(b.take(), ["* joined #Rust: 2 here; your lines go there now"], "one room, however spelled");
  assertEquals(a.take(), ["#Rust * user2 joined #Rust"]);
  await say(mode, a, "crabs");
  assertEquals(b.take(), ["#Rust <user1> crabs"]);
  assertEquals(c.take(), [], "a line in #Rust is not heard in #parley");
  await say(mode, c, "hello parley");
  assertEquals(a.take(), ["#parley <user3> hello parley"]);
  assertEquals(b.take(), ["#parley <user3> hello parley"]);
  // "#room text" addresses another room it is in; a "#word" that is none of its rooms is a plain line.
  await say(mode, a, "#parley back here");
  await say(mode, a, "#hashtag fun");
  assertEquals(c.take(), ["<user1> back here"]);
  assertEquals(b.take(), ["#parley <user1> back here", "#Rust <user1> #hashtag fun"]);
  await say(mode, a, "/join #parley");
  assertEquals(a.take(), ["* talking in #parley"]);
  await say(mode, a, "current again");
  assertEquals(c.take(), ["<user1> current again"]);
});

Deno.test("/part leaves a room: the others there are told, its lines stop, and one room means no marks again", async () => {
  const relay = new RecordingRelay();
  const { mode, members: [a, b] } = await room(2, undefined, relay);
  await say(mode, a, "/join #rust");
  await say(mode, b, "/join #rust");
  assertEquals(relay.rooms, ["+#parley", "+#rust"], "the relay hears rooms entered once");
  for (const member of [a, b]) member.take();
  await say(mode, a, "/part");
  assertEquals(a.take(), ["* left #rust; your lines go to #parley"]);
  assertEquals(b.take(), ["#rust * user1 left #rust"]);
  await say(mode, b, "#rust anyone?");
  assertEquals(a.take(), []);
  await say(mode, b, "/part #parley");
  assertEquals(b.take(), ["* left #parley; your lines go to #rust"]);
  assertEquals(a.take(), ["* user2 left #parley"], "a is in one room: no mark");
  await say(mode, b, "/part #nowhere");
  await say(mode, b, "/part rust");
  await say(mode, b, "/part");
  await say(mode, b, "lonely");
  await say(mode, b, "/me sighs");
  await say(mode, b, "/part");
  assertEquals(b.take(), [
    "ERR you are not in #nowhere",
    'ERR invalid room "rust": a room\'s name starts with # (# then 1-32 letters, digits, - or _ (any one script))',
    "* left #rust; you are in no room; /join #ROOM to talk",
    "ERR you are in no room; /join #ROOM first",
    "ERR you are in no room; /join #ROOM first",
    "ERR usage: /part [#ROOM]",
  ]);
  assertEquals(relay.rooms, ["+#parley", "+#rust", "-#rust"], "the last one here out of #rust");
  assertEquals(relay.published.slice(-4), [
    "#rust * user1 left #rust",
    "#rust <user2> anyone?",
    "* user2 left #parley",
    "#rust * user2 left #rust",
  ]);
});

Deno.test("/rooms counts members; /who lists a room's; /topic shows and sets, announced to the room", async () => {
  const { mode, members: [a, b, c] } = await room(3);
  await say(mode, a, "/nick ann");
  await say(mode, a, "/join #rust");
  await say(mode, b, "/join #rust");
  await say(mode, c, "/join #go");
  for (const member of [a, b, c]) member.take();
  await say(mode, c, "/rooms");
  await say(mode, c, "/who");
  await say(mode, c, "/who #RUST");
  await say(mode, c, "/who #parley");
  assertEquals(c.take(), [
    "* rooms: #go (1, you, current), #parley (3, you), #rust (2)",
    "* online in #go: user3",
    "* online in #RUST: ann, user2",
    "* online in #parley: ann, user2, user3",
  ]);
  await say(mode, b, "/topic");
  await say(mode, b, "/topic #rust all things \x1b[31mcrab");
  const [none, set] = b.take();
  assertEquals(none, "* #rust has no topic");
  assertEquals(set, "#rust * user2 set the topic of #rust: all things \\e[31mcrab");
  assertEquals(a.take(), ["#rust * user2 set the topic of #rust: all things \\e[31mcrab"]);
  assertEquals(c.take(), [], "c is not in #rust");
  await say(mode, c, "/topic #rust");
  assertMatch(
    c.take()[0],
    /^\* topic of #rust: all things \\e\[31mcrab \(set by user2 at \d{4}-\d\d-\d\dT[\d:.]+Z\)$/,
  );
  await say(mode, c, "/topic #rust mine now");
  assertEquals(c.take(), ["ERR you are not in #rust"]);
  await say(mode, c, "/join #rust");
  assertEquals(c.take(), ["* joined #rust: 3 here; topic: all things \\e[31mcrab; your lines go there now"]);
});

Deno.test("rooms have limits: --max-rooms in all, 20 per client; a leave is told in every room of the one who left", async () => {
  const r = new Members<FakeMember>();
  const mode = createChatMode({ members: r, names: new MemoryRegistry().names, settleMs: 0, maxRooms: 3 });
  const [a, b, c] = [await join(r, mode, 1), await join(r, mode, 2), await join(r, mode, 3)];
  await say(mode, a, "/join #one");
  await say(mode, a, "/join #two");
  for (const member of [a, b, c]) member.take();
  await say(mode, b, "/join #three");
  await say(mode, b, "/join #one");
  await say(mode, c, "/join #two");
  assertEquals(b.take(), [
    "ERR too many rooms (max 3); join one of /rooms",
    "* joined #one: 2 here; your lines go there now",
  ]);
  r.delete(a);
  mode.leave(a, "client ended the conversation");
  assertEquals(b.take(), ["#parley * user1 left", "#one * user1 left"], "not #two, where b is not");
  assertEquals(c.take(), [
    "* joined #two: 2 here; your lines go there now",
    "#parley * user1 left",
    "#two * user1 left",
  ]);
  const solo = createChatMode({ members: r, names: new MemoryRegistry().names, settleMs: 0 });
  const d = await join(r, solo, 4);
  for (let i = 1; i < 20; i++) await say(solo, d, `/join #r${i}`);
  d.take();
  await say(solo, d, "/join #r20");
  assertEquals(d.take(), ["ERR in too many rooms (max 20); /part one first"]);
});

Deno.test("a chat may start its clients in another room; what it relays carries the room", async () => {
  const relay = new RecordingRelay();
  const r = new Members<FakeMember>();
  const history = new MemoryHistory(5);
  const mode = createChatMode({
    members: r,
    names: new MemoryRegistry().names,
    relay,
    history,
    settleMs: 0,
    room: "#lobby",
  });
  const a = await join(r, mode, 1);
  await say(mode, a, "hi");
  assertEquals(relay.rooms, ["+#lobby"]);
  assertEquals(relay.published, ["#lobby * user1 joined", "#lobby <user1> hi"]);
  relay.deliver({ line: bytes("<far> lobby line"), kind: "said", room: "#LOBBY" });
  relay.deliver({ line: bytes("<far> elsewhere"), kind: "said", room: "#parley" });
  assertEquals(a.take().slice(1), ["<far> lobby line"], "a line for a room nobody here is in is dropped");
  assertEquals((await history.recent("#lobby")).entries.length, 2);
  assertEquals((await history.recent("#parley")).entries.length, 1, "but kept in that room's history");
});

Deno.test("the operator's moderation: a kick and a ban are told to the rooms instead of a leave; a ban holds at the door", async () => {
  const relay = new RecordingRelay();
  const bans = new Bans();
  const r = new Members<FakeMember>();
  const mode = createChatMode({ members: r, names: new MemoryRegistry().names, relay, bans, settleMs: 0 });
  const [a, b, c] = [await join(r, mode, 1), await join(r, mode, 2), await join(r, mode, 3)];
  for (const member of [a, b, c]) member.take();
  assertEquals(await mode.control.moderate("nobody", { kind: "kick", reason: "" }), "no such name nobody");
  assertEquals(
    await mode.control.moderate("USER1", { kind: "kick", reason: "spam \x1b[2J" }),
    "kicked user1",
  );
  assertEquals(a.take(), ["* kicked by the operator: spam \\e[2J", "* disconnected by the operator"]);
  assertEquals(a.closed?.reason, "kicked by operator");
  r.delete(a);
  mode.leave(a, "kicked by operator");
  assertEquals(b.take(), ["* user1 was kicked by the operator (spam \\e[2J)"], "no '* user1 left' after");

  assertEquals(
    await mode.control.moderate("user2", { kind: "mute", minutes: 3 }),
    "muted user2 for 3 minutes",
  );
  assertEquals(b.take(), ["* you are muted by the operator for 3 minutes"]);
  await say(mode, b, "let me speak");
  await say(mode, b, "/me objects");
  await say(mode, b, "/who");
  assertEquals(b.take(), [
    "ERR you are muted for 3 more minutes",
    "ERR you are muted for 3 more minutes",
    "* online: user2, user3",
  ]);
  assertEquals(c.take(), [
    "* user1 was kicked by the operator (spam \\e[2J)",
    "* user2 was muted by the operator for 3 minutes",
  ]);
  await mode.control.moderate("user2", { kind: "unmute" });
  await say(mode, b, "thanks");
  assertEquals(c.take(), ["* user2 may speak again", "<user2> thanks"]);

  assertEquals(
    await mode.control.moderate("user3", { kind: "ban", minutes: 1 }),
    "banned user3 (127.0.0.1) for 1 minute",
  );
  assertEquals(bans.refuses("127.0.0.1"), true);
  assertEquals(bans.refuses("127.0.0.2"), false);
  assertEquals(b.closed?.reason, "kicked by operator", "the same address: b goes too");
  assertEquals(relay.privately, []);
  assertEquals(relay.controls, [
    { line: "bans?", to: 0 },
    { line: `ban-address 127.0.0.1 ${bans.entries()[0].until}`, to: 0 },
  ], "it asked the others for their bans when it started, and shares its own");
  relay.deliver({ line: bytes("bans?"), kind: "control", to: 0 });
  assertEquals(relay.controls.at(-1), { line: `ban-address 127.0.0.1 ${bans.entries()[0].until}`, to: 0 });
  assertEquals(mode.control.unban("127.0.0.1"), "lifted the ban on 127.0.0.1");
  assertEquals(bans.refuses("127.0.0.1"), false);
});

Deno.test("a moderation for a client served elsewhere goes as a control line; one delivered is carried out", async () => {
  const names = new MemoryRegistry().names;
  const relay = new RecordingRelay();
  const { mode, members: [a, b] } = await room(2, names, relay);
  names.claim("far", 99);
  assertEquals(
    await mode.control.moderate("far", { kind: "mute", minutes: 2 }),
    "mute: sent to the server that holds far",
  );
  assertEquals(relay.controls, [{ line: "mute 2", to: 99 }]);
  relay.deliver({ line: bytes("kick from afar"), kind: "control", to: 1 });
  assertEquals(a.take(), ["* kicked by the operator: from afar", "* disconnected by the operator"]);
  assertEquals(b.take(), ["* user1 was kicked by the operator (from afar)"]);
  relay.deliver({ line: bytes("mute soon"), kind: "control", to: 2 });
  relay.deliver({ line: bytes("ban-address not-an-address 1"), kind: "control", to: 0 });
  assertEquals(b.take(), [], "a control line that makes no sense does nothing");
});

/** The grace before a join is told, in the session tests. */
const SETTLE_MS = 30;

/** Waits until every join is told. */
function settled(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 2 * SETTLE_MS));
}

/** A chat with sessions (a window of `windowMs`), and `count` members joined. */
async function sessionRoom(count: number, windowMs = 60_000, resumeBytes?: number) {
  const r = new Members<FakeMember>();
  // Joins are told after a short grace, as in a server: a client that resumes at once never joined.
  const mode = createChatMode({
    members: r,
    names: new MemoryRegistry().names,
    settleMs: SETTLE_MS,
    resumeWindowMs: windowMs,
    resumeBytes,
  });
  const members: FakeMember[] = [];
  for (let id = 1; id <= count; id++) members.push(await join(r, mode, id));
  await settled();
  for (const member of members) member.take();
  return { r, mode, members };
}

/** Asks for a session; returns its token. */
async function session(mode: Mode, member: FakeMember): Promise<string> {
  await say(mode, member, "/session");
  const line = member.take().find((line) => line.startsWith("* session "))!;
  return line.slice("* session ".length);
}

/** `member`'s connection drops (no goodbye). */
function drop(r: Members<FakeMember>, mode: Mode, member: FakeMember): void {
  r.delete(member);
  mode.leave(member, "connection lost");
}

Deno.test("a dropped session comes back as itself with every line it missed, once, and the room never heard it leave", async () => {
  const { r, mode, members: [a, b] } = await sessionRoom(2);
  await say(mode, a, "/nick zoe");
  const token = await session(mode, a);
  assertMatch(token, /^[A-Za-z0-9_-]{22}$/);
  await say(mode, b, "seen by zoe");
  assertEquals(a.take(), ["@#parley:2 <user2> seen by zoe"], "a session sees each line's number");
  assertEquals(b.take(), ["* user1 is now zoe"], "nobody else does");
  drop(r, mode, a);
  await say(mode, b, "while away 1");
  await say(mode, b, "/who");
  assertEquals(b.take(), ["* online: zoe, user2"], "the name is held, and no leave was told");
  await say(mode, b, "while away 2");
  await say(mode, b, "/msg zoe psst");
  const back = await join(r, mode, 3);
  back.take();
  await say(mode, back, `/resume ${token} #parley:2`);
  const lines = back.take();
  assertEquals(lines.slice(0, -1), [
    "* resumed as zoe; 3 missed lines follow",
    "@#parley:3 <user2> while away 1",
    "@#parley:4 <user2> while away 2",
    "* private from user2: psst",
  ]);
  assertMatch(lines.at(-1)!, /^\* session [A-Za-z0-9_-]{22}$/);
  assert.ok(!lines.at(-1)!.endsWith(token), "a new token each time");
  assertEquals(b.take(), ["* private to zoe: psst"], "the room heard no leave, and no join of user3");
  await say(mode, b, "live again");
  assertEquals(back.take(), ["@#parley:5 <user2> live again"]);
  await say(mode, back, "I am back");
  assertEquals(b.take(), ["<zoe> I am back"]);
  await say(mode, back, `/resume ${token} #parley:3`);
  assertEquals(back.take()[0], "ERR no such session (wrong, expired or used already); a new one follows");
});

Deno.test("a session not back within the window: its leave is told then, and its name is free", async () => {
  const { r, mode, members: [a, b] } = await sessionRoom(2, 50);
  await say(mode, a, "/nick zoe");
  const token = await session(mode, a);
  b.take();
  drop(r, mode, a);
  assertEquals(b.take(), []);
  await new Promise((resolve) => setTimeout(resolve, 80));
  assertEquals(b.take(), ["* zoe left"]);
  await say(mode, b, "/nick zoe");
  assertEquals(b.take(), ["* you are now zoe"]);
  const late = await join(r, mode, 3);
  late.take();
  await say(mode, late, `/resume ${token} #parley:0`);
  const [error, fresh] = late.take();
  assertEquals(error, "ERR no such session (wrong, expired or used already); a new one follows");
  assertMatch(fresh, /^\* session /);
  await settled();
});

Deno.test("more missed than a room keeps: the client is told how many it lost, and gets the rest in order", async () => {
  const { r, mode, members: [a, b] } = await sessionRoom(2, 60_000, 4096);
  const token = await session(mode, a);
  drop(r, mode, a);
  for (let i = 1; i <= 200; i++) await say(mode, b, `line ${i}`);
  const back = await join(r, mode, 3);
  back.take();
  await say(mode, back, `/resume ${token} #parley:0`);
  const lines = back.take();
  const [, follow, lost] = /^\* resumed as user1; (\d+) missed lines follow; (\d+) more were lost/.exec(
    lines[0],
  )!;
  const numbers = lines.slice(1, -1).map((line) => Number(/ line (\d+)$/.exec(line)![1]));
  assertEquals(Number(follow), numbers.length);
  assert.ok(Number(lost) > 0, "some were lost");
  assertEquals(numbers.length + Number(lost), 200);
  assertEquals(
    numbers,
    Array.from({ length: numbers.length }, (_, i) => 201 - numbers.length + i),
    "the newest, in order",
  );
});

Deno.test("resuming a session whose connection is still open takes it over; bad tokens get ERR and a fresh session", async () => {
  const { r, mode, members: [a, b] } = await sessionRoom(2);
  const token = await session(mode, a);
  const other = await join(r, mode, 3);
  other.take();
  b.take();
  await say(mode, other, `/resume ${token}`);
  assertEquals(a.closed?.reason, "session taken over");
  assertEquals(a.take(), ["* your session was resumed on another connection"]);
  r.delete(a);
  mode.leave(a, "session taken over");
  assertEquals(other.take()[0], "* resumed as user1; 0 missed lines follow");
  assertEquals(b.take(), [], "the room saw nothing");
  for (const bad of ["garbage", "A".repeat(22), token]) {
    await say(mode, b, `/resume ${bad} #parley:0`);
    const [error, fresh] = b.take();
    assertEquals(error, "ERR no such session (wrong, expired or used already); a new one follows");
    assertMatch(fresh, /^\* session [A-Za-z0-9_-]{22}$/);
  }
  await say(mode, b, "/resume");
  await say(mode, b, "/resume x #parley:oops");
  assertEquals(b.take(), [
    "ERR usage: /resume TOKEN [#ROOM:SEQ,...]",
    "ERR usage: /resume TOKEN [#ROOM:SEQ,...]",
  ]);
  const off = createChatMode({ members: r, names: new MemoryRegistry().names, settleMs: 0 });
  const c = await join(r, off, 9);
  c.take();
  await say(off, c, "/session");
  assertEquals(c.take(), ["ERR sessions are off here (--resume-window 0)"]);
});
