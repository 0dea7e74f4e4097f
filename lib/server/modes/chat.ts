/**
 * Chat mode: rooms where each line is relayed to everyone else in the room as `<NAME> text`.
 *
 * Clients start as `user<ID>` in the start room (`--room`, `#parley` by default); `/join #name`
 * enters (and opens) another, `/part` leaves one, `/rooms` lists them, `/who` lists a room's
 * members and `/topic` shows or sets its topic. A plain line goes to the client's current room:
 * the one it joined or switched to last; `#name text` says it in another room it is in. A client
 * in one room sees lines exactly as a one-room chat has them (`<bob> hi`, `* bob joined`); one in
 * several sees each line from a room after that room's name (`#rust <bob> hi`). Joins, leaves and
 * renames are announced as `* ...` lines in each room of whoever it concerns. Names may be of any
 * script and are unique by their key (`protocol/names.ts`: case, compatibility forms and
 * confusable letters folded), so nobody can pass for someone else; `user<digits>` and `operator`
 * stay reserved for the server. Room names are names after a `#`, and one room however spelled.
 * A relayed line is built once and copied into each recipient's output queue; a recipient that
 * stops reading is dropped by its connection, never waited for.
 *
 * Nothing a client sends can drive another client's terminal: every relayed line, and every name
 * or command echoed back in an `ERR`, has its control characters, C1, DEL and bidi overrides
 * escaped, for `nc` users as much as for Parley's own client.
 *
 * Names live in the registry, rooms in the directory, and lines also go to the relay, so the same
 * mode serves one process, the workers of one server, or a chat spread over several machines:
 * what differs is only which registry, directory and relay it is given. With a history, a
 * newcomer is first sent the last lines said in its start room, each marked `* history <time>`,
 * and nothing said while it was being fetched is lost or sent twice.
 *
 * Beside this file: the operator's moderation (`chat_moderation.ts`), the clients' sessions, which
 * keep a client that dropped for its return (`chat_sessions.ts`), and the state they share with
 * this one, people and rooms (`chat_state.ts`).
 */

import { escapeLine, escapeText } from "../../protocol/escape.ts";
import { isReserved, NAME_RULE, nameKey, parseName } from "../../protocol/names.ts";
import { parseRoom, ROOM_RULE, roomKey } from "../../protocol/rooms.ts";
import { sequenceMark } from "../../protocol/session.ts";
import { Replay } from "../replay.ts";
import type { Names } from "../../registry/registry.ts";
import type { LineKind, Relay, RoomLine } from "../../relay/relay.ts";
import { type Directory, MemoryDirectory, type RoomView } from "../../rooms/directory.ts";

import { andThen, type Awaitable } from "../../util/awaitable.ts";
import { formatHistoryEntry, type History, type HistorySnapshot } from "../../history/history.ts";
import type { Ban, Bans } from "../access_list.ts";
import type { BanStore, SessionStore } from "../../backend.ts";
import { ChatSessions, isResume, RESUME_USAGE } from "./chat_sessions.ts";
import { MAX_ROOMS_PER_CLIENT, type Person, type Room } from "./chat_state.ts";
import type { Members } from "../members.ts";
import { type Moderation, Moderator } from "./chat_moderation.ts";

export type { Moderation } from "./chat_moderation.ts";
import type { Transcript } from "../transcript.ts";
import type { Member, Mode, Step } from "./mode.ts";

const SLASH = 0x2f;
const HASH = 0x23;
const SPACE = 0x20;
const TAB = 0x09;
/** Most changes named in the one line that tells the other rooms what they missed in an outage. */
const MAX_CHANGES_SHOWN = 5;
/**
 * How long after the link is back that line goes out: longer than the longest back-off of any
 * server's reconnect (5 s, `redis/link.ts`), so that the others have resubscribed and hear it.
 */
const HEAL_NEWS_DELAY_MS = 6000;
/** The room a client starts in when the server names none (`--room`). */
export const DEFAULT_ROOM = "#parley";
export { MAX_ROOMS_PER_CLIENT } from "./chat_state.ts";
/** Most rooms `/rooms` names; it counts the rest. */
const MAX_ROOMS_LISTED = 50;
/** The longest topic kept, in characters. */
export const MAX_TOPIC_CHARS = 300;
/** What `/help` says. */
export const CHAT_HELP = `* commands: /nick NAME (${NAME_RULE}), /who [#ROOM], /me TEXT, /msg NAME TEXT, ` +
  "/join #ROOM, /part [#ROOM], /rooms, /topic [#ROOM] [TEXT], /quit [REASON], /help, " +
  "/session and /resume TOKEN #ROOM:SEQ (come back after a drop); " +
  "commands are case-insensitive; any other line goes to your current room (the one you joined last), " +
  "#ROOM TEXT to another room you are in (//text for a line that starts with /)";
/** How each command is used, as a client that used it wrongly is told. */
const USAGE = {
  nick: `ERR usage: /nick NAME (${NAME_RULE})`,
  who: "ERR usage: /who [#ROOM]",
  me: "ERR usage: /me TEXT (an action: * NAME TEXT)",
  msg: "ERR usage: /msg NAME TEXT (a private message)",
  join: `ERR usage: /join #ROOM (${ROOM_RULE})`,
  part: "ERR usage: /part [#ROOM]",
  rooms: "ERR usage: /rooms",
  topic: "ERR usage: /topic [#ROOM] [TEXT]",
  session: "ERR usage: /session",
  resume: RESUME_USAGE,
} as const;
/** What a client in no room is told when it says something. */
const NO_ROOM = "ERR you are in no room; /join #ROOM first";
/** The longest `/quit` reason passed on, in characters. */
const MAX_QUIT_REASON = 200;
/** What everyone here is told when the link to the other servers goes down, and comes back. */
export const LINK_LOST = "* link to other servers lost; this server's room only";
export const LINK_BACK = "* link to other servers is back; the room is whole again";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A line that reached the start room while a newcomer waited for the history; `from` if delivered. */
interface Pending {
  line: string | Uint8Array;
  from?: RoomLine;
}

/** Options for {@linkcode createChatMode}. */
export interface ChatModeOptions {
  /** This server's clients. */
  members: Members;
  /** Chat names, shared with every isolate that the relay links. */
  names: Names;
  /** The rooms across the chat. @default {a MemoryDirectory: this isolate's rooms only} */
  directory?: Directory;
  /** The link to rooms served elsewhere (other workers, other servers), if any. */
  relay?: Relay;
  /** The last lines said, sent to each newcomer first (`--history`). */
  history?: History;
  /** Where every line said here is written down (`--transcript`). */
  transcript?: Transcript;
  /** The room every client starts in (`--room`). @default {"#parley"} */
  room?: string;
  /** Addresses the operator banned, which the door refuses. */
  bans?: Bans;
  /** Where the operator's bans are kept for servers that start later (Redis). */
  banStore?: BanStore;
  /** Sees every line said or told in a room this server hears, with the room (the operator's console). */
  watch?: (room: string, line: string | Uint8Array) => void;
  /** Most rooms at once in the chat (`--max-rooms`). @default {1000} */
  maxRooms?: number;
  /**
   * How long a client with a session that dropped may come back as itself, with what it missed
   * (`--resume-window`); 0 for no sessions. Without a `sessionStore`, a session is kept by the
   * isolate that served it, and resumes there. @default {0}
   */
  resumeWindowMs?: number;
  /** Most bytes of numbered lines each room keeps for clients that come back. @default {1048576} */
  resumeBytes?: number;
  /** Why sessions cannot be kept here (`/session` answers it), if they cannot. */
  sessionsOff?: string;
  /**
   * Where sessions outlive this server (Redis): a client then resumes on any server of the chat,
   * with the lines its rooms' logs kept, numbered by the relay.
   */
  sessionStore?: SessionStore;
  /**
   * Most bytes of history a newcomer is sent (the newest lines that fit): as much as a client may
   * have waiting before the talkers are slowed. @default {524288}
   */
  historyBytes?: number;
  /**
   * A newcomer's join is announced once it has settled: at its first line, or after this long with
   * the connection still open. One that goes before (a TLS client that refused the server's
   * certificate, a browser's probe) was never a member: neither its join nor its leave is told.
   * 0 announces at once. @default {1000}
   */
  settleMs?: number;
}

/** What the operator's console asks of the chat; each answers with a line for the operator. */
export interface ChatControl {
  /** Says `text` as `operator` in `room`. */
  speak(room: string, text: string): string | undefined;
  /** The operator is in `room` now: `/who` there shows `@operator`, and this server hears it. */
  enter(room: string): void;
  /** Carries out `action` on the holder of `name`, wherever it is served. */
  moderate(name: string, action: Moderation): Promise<string>;
  /** Bans an address or CIDR block for `minutes`, on every server. */
  ban(entry: string, minutes: number): string;
  /** Lifts a ban, on every server. */
  unban(entry: string): string;
  /** The bans in force. */
  bans(): Ban[];
  /** What `/rooms` says. */
  rooms(): Promise<string>;
  /** What `/who #room` says. */
  who(room: string): Promise<string>;
  /** This server's members: id, name, address, rooms, lines in and out, and whether over the rate. */
  list(): string[][];
}

/** A chat mode, with what its operator may do. */
export interface ChatMode extends Mode {
  readonly control: ChatControl;
}

/** The id that stands for the operator in the directory (no connection has it). */
const OPERATOR_ID = 0;

/** Creates a chat mode. */
export function createChatMode(options: ChatModeOptions): ChatMode {
  const { members, names, relay, history, transcript, historyBytes = 1 << 19, settleMs = 1000 } = options;
  const { bans, watch } = options;
  const directory = options.directory ?? new MemoryDirectory();
  const startName = options.room ?? DEFAULT_ROOM;
  const startKey = roomKey(startName);
  const maxRooms = options.maxRooms ?? 1000;
  /** The rooms this isolate has members in, by key. */
  const rooms = new Map<string, Room>();
  /** Newcomers welcomed whose join the others have not been told yet, with the timer that will. */
  const unsettled = new Map<Member, ReturnType<typeof setTimeout>>();
  /** The order members were welcomed in: a join is told to those who were there before it. */
  const welcomed = new Map<Member, number>();
  let welcomes = 0;
  /** Members welcomed into the conversation. */
  const people = new Map<Member, Person>();
  /** Members that said `/quit`, with their reason (escaped; empty for none). */
  const quitting = new Map<Member, string>();
  /** The room the operator is in, if there is an operator. */
  let operatorRoom: string | undefined;
  const resumeWindowMs = options.resumeWindowMs ?? 0;
  const resumeBytes = options.resumeBytes ?? 1 << 20;
  /** The order lines were told in, across rooms (to merge several rooms' missed lines). */
  let linesTold = 0;
  const moderator = new Moderator({
    members,
    names,
    relay,
    bans,
    banStore: options.banStore,
    transcript,
    nameOf: (member) => people.get(member)?.name,
    tellRoomsOf: (member, line) => {
      for (const room of people.get(member)?.rooms ?? []) broadcast(room, line, member);
    },
    everyone: () => people.keys(),
  });
  /** The clients' sessions, and the people kept for those away (`chat_sessions.ts`). */
  const sessions = new ChatSessions({
    windowMs: resumeWindowMs,
    off: options.sessionsOff,
    store: options.sessionStore,
    host: {
      members,
      names,
      relay,
      directory,
      people,
      rooms,
      keyOf,
      enter,
      exit,
      rename,
      tell,
      broadcast: (room, line, except) => broadcast(room, line, except),
      numbered,
      sendFrom,
      announceJoin,
      settle(member) {
        const was = unsettled.has(member);
        clearTimeout(unsettled.get(member));
        unsettled.delete(member);
        return was;
      },
      forget(member) {
        welcomed.delete(member);
        moderator.forget(member);
      },
      moved(old, member) {
        welcomed.set(member, welcomed.get(old) ?? welcomed.get(member)!);
        welcomed.delete(old);
        moderator.moved(old, member);
      },
      changed,
    },
  });

  /**
   * Members whose join waits for the registry (`null`), or for the history, with what the start
   * room said meanwhile (a round trip's worth, since history answers or fails within a deadline).
   */
  const joining = new Map<Member, Pending[] | null>();
  /** Whether the link to the other rooms is up: a newcomer while it is down is told the room is partial. */
  let linkUp = true;
  /**
   * While the link is down, what the other servers have not seen of this server's members: the
   * name they last knew (none for a newcomer) and the name now (none once it left).
   */
  const unseen = new Map<Member, { known?: string; now?: string }>();
  let newsTimer: ReturnType<typeof setTimeout> | undefined;

  /** Notes, while the link is down, that `member` was `known` as and is now `now`. */
  function changed(member: Member, known: string | undefined, now: string | undefined): void {
    if (linkUp) return;
    const entry = unseen.get(member);
    if (entry === undefined) unseen.set(member, { known, now });
    else entry.now = now;
  }

  /** What changed here while the other servers could not hear it, in one line; `undefined` if nothing. */
  function unseenNews(): string | undefined {
    const changes: string[] = [];
    for (const { known, now } of unseen.values()) {
      if (known === undefined && now !== undefined) changes.push(`${now} joined`);
      else if (known !== undefined && now === undefined) changes.push(`${known} left`);
      else if (known !== undefined && now !== undefined && known !== now) {
        changes.push(`${known} is now ${now}`);
      }
    }
    if (changes.length === 0) return undefined;
    const shown = changes.slice(0, MAX_CHANGES_SHOWN);
    const more = changes.length - shown.length;
    return `* while the link was down: ${shown.join("; ")}${more > 0 ? `; and ${more} more` : ""}`;
  }

  /** Room names as they arrive from elsewhere, and their keys: a busy room's lines fold once. */
  const keys = new Map<string, string>();
  function keyOf(name: string): string {
    let key = keys.get(name);
    if (key === undefined) {
      if (keys.size >= 4096) keys.clear();
      key = roomKey(name);
      keys.set(name, key);
    }
    return key;
  }

  directory.open(() => {
    const views = [...rooms.values()].map((room): RoomView => ({
      name: room.name,
      members: [...room.members.keys()].map((member) => member.id),
    }));
    if (operatorRoom !== undefined) views.push({ name: operatorRoom, members: [OPERATOR_ID] });
    return views;
  });
  moderator.askForBans();
  relay?.open({
    deliver(delivered) {
      if (delivered.kind === "private") {
        const here = members.get(delivered.to!);
        if (here !== undefined) return here.send(delivered.line);
        sessions.keepPrivate(delivered.to!, delivered.line);
        return;
      }
      if (delivered.kind === "control") {
        const word = decoder.decode(delivered.line);
        if (!sessions.control(delivered.to!, word)) moderator.obey(delivered.to!, word);
        return;
      }
      // One of this server's own lines, numbered, which its clients with sessions waited for.
      if (delivered.echoId !== undefined) return sessions.echo(delivered);
      history?.record(delivered, Date.now());
      if (delivered.room !== undefined) watch?.(delivered.room, delivered.line);
      const key = delivered.room === undefined ? undefined : keyOf(delivered.room);
      const room = key === undefined ? undefined : rooms.get(key);
      if (room !== undefined) tell(room, delivered.line, undefined, delivered);
      else if (key !== undefined && joining.size > 0 && key === startKey) {
        for (const pending of joining.values()) pending?.push({ line: delivered.line, from: delivered });
      }
    },
    link: (up) => {
      linkUp = up;
      sessions.link(up);
      // Bans set while this server could not hear them.
      if (up) moderator.askForBans();
      for (const member of people.keys()) member.send(up ? LINK_BACK : LINK_LOST);
      clearTimeout(newsTimer);
      const news = up ? unseenNews() : undefined;
      unseen.clear();
      if (news === undefined) return;
      // The other servers may not be back yet: each reconnects on its own back-off, at most 5 s.
      newsTimer = setTimeout(() => {
        for (const room of rooms.values()) relay?.publish(news, "notice", room.name);
      }, HEAL_NEWS_DELAY_MS);
      Deno.unrefTimer(newsTimer);
    },
  });
  names.watch?.({
    lost(name, owner) {
      const member = members.get(owner);
      const person = member === undefined ? undefined : people.get(member);
      if (member === undefined || person?.name !== name) return;
      const fallback = `user${owner}`;
      void names.claim(fallback, owner);
      rename(member, person, fallback);
      member.send(
        `* ${name} was taken elsewhere, by an earlier claim, while the link was down; ` +
          `you are now ${fallback}`,
      );
      for (const room of person.rooms) broadcast(room, `* ${name} is now ${fallback}`, member);
    },
    departed(gone, roomsOf) {
      for (const name of gone) {
        // Each room it was in hears it; where that is not known, every room here does.
        const were = roomsOf?.get(name)?.map(roomKey);
        for (const room of rooms.values()) {
          if (were === undefined || were.includes(room.key)) broadcast(room, `* ${name} left`);
        }
      }
    },
    returned(back) {
      // Only the other servers had counted them as gone.
      const keys = new Set(back.map(nameKey));
      for (const person of people.values()) {
        if (!keys.has(nameKey(person.name))) continue;
        for (const room of person.rooms) relay?.publish(`* ${person.name} joined`, "notice", room.name);
      }
    },
  });

  /** `line` after the room's name, for members in several rooms. */
  function marked(room: Room, line: string | Uint8Array): Uint8Array {
    const bytes = typeof line === "string" ? encoder.encode(line) : line;
    const out = new Uint8Array(room.head.length + bytes.length);
    out.set(room.head);
    out.set(bytes, room.head.length);
    return out;
  }

  /** `line` from `room` for a client with a session: its number first (`@#rust:12 `). */
  function numbered(room: Room, person: Person, line: string | Uint8Array, seq: number): Uint8Array {
    const body = person.rooms.length === 1
      ? (typeof line === "string" ? encoder.encode(line) : line)
      : marked(room, line);
    const mark = encoder.encode(sequenceMark(room.name, seq));
    const out = new Uint8Array(mark.length + body.length);
    out.set(mark);
    out.set(body, mark.length);
    return out;
  }

  /** Sends `line`, from `room`, to `member`: after the room's name if it is in several. */
  function sendFrom(room: Room, member: Member, person: Person, line: string | Uint8Array): void {
    member.send(person.rooms.length === 1 ? line : marked(room, line));
  }

  /**
   * Tells everyone in `room` here but `except`; newcomers waiting for the history get it after.
   * On one server a line is numbered here; through Redis the relay numbers it, and this server's
   * clients with sessions are told its own lines when they come back numbered (`from.echoId`).
   */
  function tell(room: Room, line: string | Uint8Array, except?: Member, from?: RoomLine): void {
    let withName: Uint8Array | undefined;
    let seq: number | undefined;
    if (sessions.shared) seq = from?.seq;
    else if (room.replay !== undefined) {
      seq = room.sessions > 0
        ? room.replay.push(
          typeof line === "string" ? encoder.encode(line) : line,
          ++linesTold,
          except === undefined ? 0 : people.get(except)?.author ?? 0,
        )
        : room.replay.skip();
    }
    // Through Redis, this server's clients with sessions hear its own lines when they come back.
    const later = from === undefined && sessions.echoing;
    // Each form is built once a line: numbered (for sessions), after the room's name (for those in
    // several rooms), both, or as it is.
    let numberedOne: Uint8Array | undefined;
    let numberedMany: Uint8Array | undefined;
    for (const [member, person] of room.members) {
      if (member === except) continue;
      const session = sessions.any ? sessions.of(member) : undefined;
      if (from?.echoId !== undefined) {
        // Its author, and the clients without sessions, were told it as it was said; so were
        // sessions started while it was on its way.
        if (session === undefined || sessions.heard(session, person, from)) continue;
      } else if (later && session !== undefined) continue;
      const waiting = sessions.waiting(member);
      if (waiting !== undefined) {
        if (session !== undefined) waiting.push({ room, line, seq });
        continue;
      }
      const one = person.rooms.length === 1;
      if (session !== undefined && seq !== undefined) {
        if (one) member.send(numberedOne ??= numbered(room, person, line, seq));
        else member.send(numberedMany ??= numbered(room, person, line, seq));
      } else if (one) member.send(line);
      else member.send(withName ??= marked(room, line));
    }
    if (from?.echoId !== undefined || joining.size === 0 || room.key !== startKey) return;
    for (const pending of joining.values()) pending?.push({ line, from });
  }

  /** Tells everyone in `room`, here and elsewhere, but `except`. */
  function broadcast(
    room: Room,
    line: string | Uint8Array,
    except?: Member,
    kind: LineKind = "notice",
  ): void {
    tell(room, line, except);
    watch?.(room.name, line);
    sessions.publish(room.name, line, kind, except);
  }

  /** Puts `person` in the room called `name` (here), opening it here if it was not. */
  function enter(member: Member, person: Person, name: string): Room {
    const key = roomKey(name);
    let room = rooms.get(key);
    if (room === undefined) {
      room = { name, key, head: encoder.encode(`${name} `), members: new Map(), sessions: 0 };
      if (resumeWindowMs > 0) room.replay = new Replay(resumeBytes);
      rooms.set(key, room);
      void relay?.enter?.(name);
    }
    room.members.set(member, person);
    person.rooms.push(room);
    person.current = room;
    if (person.inSession) room.sessions++;
    sessions.entered(member, room);
    directory.moved(member.id, person.rooms.map((room) => room.name));
    return room;
  }

  /** Takes `member` out of `room`; the room goes when it is empty here. */
  function exit(member: Member, person: Person, room: Room): void {
    room.members.delete(member);
    if (person.inSession) room.sessions--;
    sessions.exited(member, room);
    person.rooms = person.rooms.filter((other) => other !== room);
    if (person.current === room) person.current = person.rooms.at(-1);
    if (room.members.size === 0) {
      rooms.delete(room.key);
      // The operator's room stays heard, with nobody here in it.
      if (operatorRoom === undefined || roomKey(operatorRoom) !== room.key) relay?.leave?.(room.name);
    }
    directory.moved(member.id, person.rooms.map((room) => room.name));
  }

  function rename(member: Member, person: Person, name: string): void {
    person.name = name;
    person.prefix = encoder.encode(`<${name}> `);
    sessions.renamed(member);
  }

  /** Lets `member` in: the history first, then the welcome and what was said meanwhile. */
  function welcome(member: Member, name: string, online: number, snapshot?: HistorySnapshot): void {
    const pending = joining.get(member) ?? [];
    joining.delete(member);
    if (snapshot !== undefined) {
      const lines = snapshot.entries.map(formatHistoryEntry);
      let first = lines.length;
      for (let bytes = 0; first > 0 && bytes + lines[first - 1].length <= historyBytes; first--) {
        bytes += lines[first - 1].length + 1;
      }
      for (const line of lines.slice(first)) member.send(line);
    }
    member.send(`* welcome, ${name}: ${online} online; /help for commands`);
    if (!linkUp) member.send(LINK_LOST);
    for (const { line, from } of pending) {
      if (from === undefined || !snapshot?.holds(from)) member.send(line);
    }
    const person: Person = { name, prefix: encoder.encode(`<${name}> `), rooms: [], current: undefined };
    people.set(member, person);
    enter(member, person, rooms.get(startKey)?.name ?? startName);
    welcomed.set(member, ++welcomes);
    if (settleMs <= 0) return announceJoin(member);
    const timer = setTimeout(() => announceJoin(member), settleMs);
    Deno.unrefTimer(timer); // a shutdown does not wait for it
    unsettled.set(member, timer);
  }

  /** Tells the others in its rooms that `member` joined, under the name it has now. */
  function announceJoin(member: Member): void {
    clearTimeout(unsettled.get(member));
    unsettled.delete(member);
    const person = people.get(member);
    // Gone meanwhile, or the server is shutting down (the room is emptied without leaves).
    if (person === undefined || members.get(member.id) !== member) return;
    changed(member, undefined, person.name);
    // Who came after it was welcomed with it in the count already, and is not told again.
    const line = `* ${person.name} joined`;
    const order = welcomed.get(member)!;
    // Through Redis, clients with sessions hear it when it comes back numbered.
    const later = sessions.echoing;
    for (const room of person.rooms) {
      for (const [other, them] of room.members) {
        if (later && sessions.of(other) !== undefined) continue;
        if (welcomed.get(other)! < order) sendFrom(room, other, them, line);
      }
      sessions.publish(room.name, line, "notice");
    }
  }

  function nick(member: Member, text: string): Step {
    const parsed = parseName(text);
    if ("error" in parsed) {
      return member.send(`ERR invalid name "${escapeText(text.slice(0, 40))}": ${parsed.error}`);
    }
    const { name } = parsed;
    if (isReserved(name) && nameKey(name) !== nameKey(people.get(member)!.name)) {
      member.send(`ERR name ${name} is reserved`);
    } else {
      return andThen(names.claim(name, member.id), (won) => {
        const person = people.get(member);
        if (person === undefined) {
          // It left while the registry answered: the name must not outlive it.
          if (won) void names.release(name, member.id);
          return;
        }
        if (!won) return member.send(`ERR name ${name} is taken`);
        // Read again: the registry may have renamed it (lost) while it answered.
        const old = person.name;
        if (nameKey(old) !== nameKey(name)) void names.release(old, member.id);
        rename(member, person, name);
        changed(member, old, name);
        member.send(`* you are now ${name}`);
        for (const room of person.rooms) broadcast(room, `* ${old} is now ${name}`, member);
      });
    }
  }

  /** `text` as a room's name, or the `ERR` line that says why not. */
  function roomNamed(text: string): { room: string } | { error: string } {
    const parsed = parseRoom(text);
    if ("room" in parsed) return parsed;
    return { error: `ERR invalid room "${escapeText(text.slice(0, 40))}": ${parsed.error}` };
  }

  function join(member: Member, person: Person, text: string): Step {
    const parsed = roomNamed(text);
    if ("error" in parsed) return member.send(parsed.error);
    const key = roomKey(parsed.room);
    const already = person.rooms.find((room) => room.key === key);
    if (already !== undefined) {
      person.current = already;
      return member.send(`* talking in ${already.name}`);
    }
    if (person.rooms.length >= MAX_ROOMS_PER_CLIENT) {
      return member.send(`ERR in too many rooms (max ${MAX_ROOMS_PER_CLIENT}); /part one first`);
    }
    return andThen(directory.rooms(), (all) => {
      // Left meanwhile, or joined it by another line meanwhile.
      if (people.get(member) !== person || person.rooms.some((room) => room.key === key)) return;
      const existing = all.find((room) => roomKey(room.name) === key);
      if (existing === undefined && !rooms.has(key) && all.length >= maxRooms) {
        return member.send(`ERR too many rooms (max ${maxRooms}); join one of /rooms`);
      }
      // The room keeps the spelling it was opened with.
      const room = enter(member, person, rooms.get(key)?.name ?? existing?.name ?? parsed.room);
      const here = (existing?.members.length ?? 0) + 1;
      broadcast(room, `* ${person.name} joined ${room.name}`, member);
      return andThen(directory.topic(room.name), (topic) => {
        const about = topic === undefined ? "" : `; topic: ${escapeText(topic.text)}`;
        member.send(`* joined ${room.name}: ${here} here${about}; your lines go there now`);
      });
    });
  }

  function part(member: Member, person: Person, text: string): Step {
    let room = person.current;
    if (text !== "") {
      const parsed = roomNamed(text);
      if ("error" in parsed) return member.send(parsed.error);
      const key = roomKey(parsed.room);
      room = person.rooms.find((room) => room.key === key);
      if (room === undefined) return member.send(`ERR you are not in ${parsed.room}`);
    }
    if (room === undefined) return member.send(USAGE.part);
    broadcast(room, `* ${person.name} left ${room.name}`, member);
    exit(member, person, room);
    const now = person.current === undefined
      ? "you are in no room; /join #ROOM to talk"
      : `your lines go to ${person.current.name}`;
    member.send(`* left ${room.name}; ${now}`);
  }

  function listRooms(member: Member, person: Person): Step {
    return andThen(directory.rooms(), (all) => {
      if (all.length === 0) return member.send("* rooms: none");
      // The client's own rooms first, so that a long list never hides them; each says so.
      const mine = (room: RoomView) => person.rooms.some((own) => own.key === roomKey(room.name));
      const ordered = [...all.filter(mine), ...all.filter((room) => !mine(room))];
      const shown = ordered.slice(0, MAX_ROOMS_LISTED).map((room) => {
        const key = roomKey(room.name);
        const yours = person.current?.key === key ? ", you, current" : mine(room) ? ", you" : "";
        return `${room.name} (${room.members.length}${yours})`;
      }).sort();
      const more = all.length - shown.length;
      member.send(`* rooms: ${shown.join(", ")}${more > 0 ? `, and ${more} more` : ""}`);
    });
  }

  function who(member: Member, person: Person, text: string): Step {
    let name = person.current?.name;
    if (text !== "") {
      const parsed = roomNamed(text);
      if ("error" in parsed) return member.send(parsed.error);
      name = parsed.room;
    }
    if (name === undefined) return member.send(USAGE.who);
    return andThen(inRoom(name), (shown) => {
      const label = text === "" && person.rooms.length <= 1 ? "online" : `online in ${name}`;
      member.send(`* ${label}: ${shown.join(", ")}`);
    });
  }

  /** Who is in room `name`, anywhere: names in the order they connected, then `@operator`. */
  function inRoom(name: string): Awaitable<string[]> {
    const key = roomKey(name);
    return andThen(names.list(), (holders) =>
      andThen(directory.rooms(), (all) => {
        const members = new Set(all.find((room) => roomKey(room.name) === key)?.members);
        const shown = holders.filter(({ owner }) => members.has(owner)).map(({ name }) => name);
        if (members.has(OPERATOR_ID)) shown.push("@operator");
        return shown;
      }));
  }

  function topic(member: Member, person: Person, text: string): Step {
    let room = person.current;
    let rest = text;
    if (text.startsWith("#")) {
      const [first, ...words] = text.split(" ");
      const parsed = roomNamed(first);
      if ("error" in parsed) return member.send(parsed.error);
      rest = words.join(" ").trim();
      const key = roomKey(parsed.room);
      room = person.rooms.find((room) => room.key === key);
      if (room === undefined) {
        if (rest !== "") return member.send(`ERR you are not in ${parsed.room}`);
        return showTopic(member, parsed.room);
      }
    }
    if (room === undefined) return member.send(USAGE.topic);
    if (rest === "") return showTopic(member, room.name);
    const said = [...rest].slice(0, MAX_TOPIC_CHARS).join("");
    return andThen(directory.setTopic(room.name, { text: said, by: person.name, at: Date.now() }), () => {
      if (people.get(member) !== person) return;
      broadcast(room, `* ${person.name} set the topic of ${room.name}: ${escapeText(said)}`);
      transcript?.write({ room: room.name, name: person.name, kind: "topic", text: said });
    });
  }

  function showTopic(member: Member, room: string): Step {
    return andThen(directory.topic(room), (topic) => {
      if (topic === undefined) return member.send(`* ${room} has no topic`);
      const when = new Date(topic.at).toISOString();
      member.send(
        `* topic of ${room}: ${escapeText(topic.text)} (set by ${escapeText(topic.by)} at ${when})`,
      );
    });
  }

  function command(member: Member, person: Person, text: string): Step {
    const [verb, ...rest] = text.split(" ");
    const argument = rest.join(" ").trim();
    const lower = verb.toLowerCase();
    // A muted member may look around and leave, not speak, rename or set a topic.
    const speaks = lower === "/me" || lower === "/msg" || lower === "/nick" ||
      (lower === "/topic" && argument.replace(/^#\S*\s*/, "") !== "");
    if (speaks && moderator.mutedNotice(member)) return;
    switch (lower) {
      case "/nick":
        return argument === "" ? member.send(USAGE.nick) : nick(member, argument);
      case "/who":
        return argument.includes(" ") ? member.send(USAGE.who) : who(member, person, argument);
      case "/me":
        if (argument === "") return member.send(USAGE.me);
        return person.current === undefined
          ? member.send(NO_ROOM)
          : say(member, person, person.current, "action", argument);
      case "/msg": {
        const [to, ...words] = argument.split(" ");
        const text = words.join(" ").trim();
        return to === "" || text === "" ? member.send(USAGE.msg) : message(member, person, to, text);
      }
      case "/join":
        return argument === "" || argument.includes(" ")
          ? member.send(USAGE.join)
          : join(member, person, argument);
      case "/part":
        return argument.includes(" ") ? member.send(USAGE.part) : part(member, person, argument);
      case "/rooms":
        return argument !== "" ? member.send(USAGE.rooms) : listRooms(member, person);
      case "/topic":
        return topic(member, person, argument);
      case "/session":
        return argument !== "" ? member.send(USAGE.session) : sessions.start(member, person);
      case "/resume": {
        const [token = "", seen = "", ...more] = argument.split(" ");
        return token === "" || more.length > 0
          ? member.send(USAGE.resume)
          : sessions.resume(member, person, token, seen);
      }
      case "/quit":
        quitting.set(member, escapeText(argument.slice(0, MAX_QUIT_REASON)));
        return member.close("client ended the conversation", "* bye");
      case "/help":
        return member.send(CHAT_HELP);
      default:
        member.send(`ERR unknown command ${escapeText(verb.slice(0, 40))}; try /help`);
    }
  }

  /**
   * Sends `text` from `person` to the holder of the name `to` alone, wherever it is served (the
   * isolate that serves it delivers it), and tells the sender it went.
   */
  function message(member: Member, person: Person, to: string, text: string): Step {
    return andThen(names.holder(to), (owner) => {
      const shown = escapeText(to.slice(0, 64));
      if (owner === undefined) return member.send(`ERR no such name ${shown}`);
      const line = `* private from ${person.name}: ${escapeText(text)}`;
      const here = members.get(owner);
      // Served here, kept here for a client away, or sent to the server that serves it.
      if (here !== undefined) here.send(line);
      else if (!sessions.keepPrivate(owner, line)) relay?.publish(line, "private", owner);
      member.send(`* private to ${shown}: ${escapeText(text)}`);
      transcript?.write({ name: person.name, kind: "private", to, text });
    });
  }

  /**
   * Says `text` to everyone else in `room` as `person`: a line (`<alice> text`) or an action
   * (`* alice text`), kept in the history and the transcript.
   */
  function say(
    member: Member,
    person: Person,
    room: Room,
    kind: "said" | "action",
    text: string | Uint8Array,
  ): void {
    const prefix = kind === "said" ? person.prefix : encoder.encode(`* ${person.name} `);
    const escaped = typeof text === "string" ? encoder.encode(escapeText(text)) : escapeLine(text);
    const line = new Uint8Array(prefix.length + escaped.length);
    line.set(prefix);
    line.set(escaped, prefix.length);
    history?.record({ line, kind: "said", room: room.name }, Date.now());
    broadcast(room, line, member, "said");
    transcript?.write({
      room: room.name,
      name: person.name,
      kind,
      text: typeof text === "string" ? text : decoder.decode(text),
    });
  }

  const control: ChatControl = {
    speak(name, text) {
      const parsed = parseRoom(name);
      if ("error" in parsed) return `invalid room ${escapeText(name.slice(0, 40))}: ${parsed.error}`;
      if (text.trim() === "") return "nothing to say";
      const line = encoder.encode(`<operator> ${escapeText(text)}`);
      const room = rooms.get(roomKey(parsed.room));
      history?.record({ line, kind: "said", room: room?.name ?? parsed.room }, Date.now());
      if (room !== undefined) tell(room, line);
      watch?.(room?.name ?? parsed.room, line);
      sessions.publish(room?.name ?? parsed.room, line, "said");
      transcript?.write({ room: room?.name ?? parsed.room, name: "operator", kind: "said", text });
    },
    enter(name) {
      const previous = operatorRoom;
      operatorRoom = name;
      if (previous !== undefined && !rooms.has(roomKey(previous))) relay?.leave?.(previous);
      void relay?.enter?.(name);
      directory.moved(OPERATOR_ID, [name]);
    },
    moderate: (name, action) => moderator.moderate(name, action),
    ban: (entry, minutes) => moderator.ban(entry, minutes),
    unban: (entry) => moderator.unban(entry),
    bans: () => moderator.bans(),
    rooms: async () => {
      const all = await directory.rooms();
      return all.length === 0
        ? "rooms: none"
        : `rooms: ${all.map((room) => `${room.name} (${room.members.length})`).join(", ")}`;
    },
    who: async (name) => {
      const key = roomKey(name);
      const [holders, all] = await Promise.all([names.list(), directory.rooms()]);
      const inRoom = new Set(all.find((room) => roomKey(room.name) === key)?.members);
      return `online in ${name}: ${
        holders.filter(({ owner }) => inRoom.has(owner)).map(({ name }) => name).join(", ")
      }`;
    },
    list: () =>
      [...people].map(([member, person]) => [
        `#${member.id}`,
        person.name,
        member.remote,
        person.rooms.map((room) => room.name).join(",") || "-",
        String(member.linesIn),
        String(member.linesOut),
        member.overRate ? "throttled" : moderator.isMuted(member) ? "muted" : "",
      ]),
  };

  /** The room a line that starts with `#name ` is addressed to, and where its text starts. */
  function addressed(person: Person, line: Uint8Array): { room: Room; start: number } | undefined {
    const space = line.indexOf(SPACE);
    if (space === -1) return undefined;
    const key = roomKey(decoder.decode(line.subarray(0, space)));
    const room = person.rooms.find((room) => room.key === key);
    return room === undefined ? undefined : { room, start: space + 1 };
  }

  return {
    control,
    backPressure: "shared",
    join(member) {
      const name = `user${member.id}`;
      // Ids are unique and user<digits> is reserved, so nobody else can hold this name: the
      // newcomer need not wait for the registry to say so. (A registry asked in the same order,
      // as Redis is, counts it below.)
      joining.set(member, null);
      void names.claim(name, member.id);
      return andThen(names.count(), (online) => {
        // Gone while the registry answered: leave() has given the name back.
        if (!joining.has(member)) return;
        if (history === undefined) return welcome(member, name, online);
        // From here on, what the start room says waits for it, after the history.
        joining.set(member, []);
        return andThen(history.recent(startName), (snapshot) => {
          if (joining.has(member)) welcome(member, name, online, snapshot);
        });
      });
    },
    line(member, line) {
      const person = people.get(member);
      if (person === undefined) return;
      // Its first line settles it: the others hear it joined before they hear what it says; one
      // that comes back as someone (/resume) was never anyone else.
      if (unsettled.has(member) && !isResume(line)) announceJoin(member);
      // "//text" is how a line that starts with a slash is said.
      if (line[0] === SLASH && line[1] !== SLASH) return command(member, person, decoder.decode(line));
      let room = person.current;
      let text = line[0] === SLASH ? line.subarray(1) : line;
      // "#name text" says it in another room it is in; any other "#..." is a plain line.
      const to = line[0] === HASH ? addressed(person, line) : undefined;
      if (to !== undefined) {
        room = to.room;
        text = line.subarray(to.start);
      }
      // An empty line (or one of blanks) says nothing.
      if (text.every((byte) => byte === SPACE || byte === TAB)) return;
      if (room === undefined) return member.send(NO_ROOM);
      if (moderator.mutedNotice(member)) return;
      say(member, person, room, "said", text);
    },
    leave(member) {
      const why = quitting.get(member);
      quitting.delete(member);
      // Taken over by another connection, or gone without saying so and kept for the window
      // (its name held, its rooms not told): nothing more to do.
      if (sessions.left(member, why === undefined && !moderator.removed.has(member) && people.has(member))) {
        return;
      }
      if (joining.delete(member)) return void names.release(`user${member.id}`, member.id);
      const person = people.get(member);
      if (person === undefined) return;
      people.delete(member);
      welcomed.delete(member);
      void names.release(person.name, member.id);
      const told = !unsettled.has(member);
      // Gone before it settled: it was never announced, so its leave is not either.
      clearTimeout(unsettled.get(member));
      unsettled.delete(member);
      moderator.forget(member);
      // Closed by the operator: its rooms were told why already.
      const leaving = told && !moderator.removed.delete(member);
      if (told) changed(member, person.name, undefined);
      for (const room of [...person.rooms]) {
        if (leaving) broadcast(room, `* ${person.name} left${why ? ` (${why})` : ""}`, member);
        exit(member, person, room);
      }
    },
  };
}
