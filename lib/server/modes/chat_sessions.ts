/**
 * Sessions of chat mode (`/session`, `/resume`, `--resume-window`): a client that drops comes back
 * as itself, with every line it missed, exactly once.
 *
 * A client with a session gets every room line numbered (`@#room:SEQ `). When its connection
 * drops without `/quit`, its person is parked: its name stays held and its rooms are not told,
 * for the window; a new connection whose first line is `/resume TOKEN #room:SEQ,...` becomes it
 * again, is sent what it missed after those numbers, then a new token, then live lines.
 *
 * On one server (or with `--workers` and no Redis, where `/session` says why not) a room's lines
 * are numbered and kept here, in its replay. Through Redis ({@linkcode SessionStore}) a session
 * belongs to the chat, not to this server: the relay numbers each room line in the room's log,
 * the session is saved in Redis, and a client resumes on any server, or here after a restart. This
 * server's own lines then reach its clients with sessions when they come back from Redis numbered
 * (the "echo"), so that every client sees one order under one numbering.
 *
 * The chat (`chat.ts`) owns the people and rooms; what this part does to them goes through
 * {@linkcode SessionHost}, the chat's side of the seam.
 */

import { looksLikeToken, newToken, parseLastSeen } from "../../protocol/session.ts";
import { roomKey } from "../../protocol/rooms.ts";
import type { Names } from "../../registry/registry.ts";
import type { LineKind, Relay, RoomLine } from "../../relay/relay.ts";
import type { Directory } from "../../rooms/directory.ts";
import type { SessionStore } from "../../backend.ts";
import { andThen } from "../../util/awaitable.ts";
import type { Replayed } from "../replay.ts";
import type { Members } from "../members.ts";
import { MAX_ROOMS_PER_CLIENT, type Person, type Room } from "./chat_state.ts";
import type { Member, Step } from "./mode.ts";

/** Most private lines kept for a client away within its resume window. */
const MAX_PARKED_PRIVATES = 100;
/**
 * Most lines of this server's on their way back from Redis, numbered, before the oldest is told
 * to its clients with sessions without waiting any more (a round trip's worth is a few; this many
 * means the echo is not coming).
 */
const MAX_AWAITING_ECHO = 4096;
/** How long a line of this server's may take to come back numbered before it is told without. */
const ECHO_WAIT_MS = 2000;
/** The control line that tells the server holding a session that it was resumed elsewhere. */
const RESUMED = "resumed";
/** What a client whose token is wrong, expired or used is told, before a fresh session. */
const NO_SESSION = "ERR no such session (wrong, expired or used already); a new one follows";
/** What a client that resumes while Redis cannot be reached is told, before a fresh session. */
const UNREACHABLE = "ERR cannot reach the chat's sessions now (Redis); a new one follows";
/** What a client that used `/resume` wrongly is told. */
export const RESUME_USAGE = "ERR usage: /resume TOKEN [#ROOM:SEQ,...]";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A client's session (`/session`): the token that resumes it, the person it is, the connection
 * that has it now, and, while that connection is gone, when it left and what was sent to it alone.
 */
export interface Session {
  token: string;
  person: Person;
  member: Member;
  /** By room key: the number of the last line told there before the client had a session (or the room). */
  floor: Map<string, number>;
  /** Its join was never told (it left before it settled): neither is its leave. */
  untold?: boolean;
  /**
   * Through Redis: the last echo id handed out when it started; a line of this server's published
   * before (an id up to this one) its client was told as it was said, without a number.
   */
  since?: number;
  parked?: { timer: ReturnType<typeof setTimeout>; privates: (string | Uint8Array)[] };
}

/** A line told to a client while the lines it missed are read (through Redis), to follow them. */
export interface Waiting {
  room: Room;
  line: string | Uint8Array;
  seq?: number;
}

/** What sessions need of the chat: its people and rooms, and how it moves them. */
export interface SessionHost {
  members: Members;
  names: Names;
  relay?: Relay;
  directory: Directory;
  /** The people welcomed, by the connection that is each. */
  people: Map<Member, Person>;
  /** This server's rooms, by key. */
  rooms: ReadonlyMap<string, Room>;
  /** A room's key from its name (cached). */
  keyOf(name: string): string;
  enter(member: Member, person: Person, name: string): Room;
  exit(member: Member, person: Person, room: Room): void;
  rename(member: Member, person: Person, name: string): void;
  /** Tells `room` here (`tell`), or here and elsewhere (`broadcast`). */
  tell(room: Room, line: string | Uint8Array, except?: Member, from?: RoomLine): void;
  broadcast(room: Room, line: string | Uint8Array, except?: Member): void;
  /** `line` from `room` numbered for `person` (`@#room:SEQ `, after the room's name if it is in several). */
  numbered(room: Room, person: Person, line: string | Uint8Array, seq: number): Uint8Array;
  /** Sends `line` from `room` to `member` as it is, after the room's name if it is in several. */
  sendFrom(room: Room, member: Member, person: Person, line: string | Uint8Array): void;
  announceJoin(member: Member): void;
  /** Its join will not be told (it is someone else now, or leaves unannounced); whether it was not yet. */
  settle(member: Member): boolean;
  /** `member` is no one any more (its order of welcome and its moderation go). */
  forget(member: Member): void;
  /** `member` is who `old` was (its order of welcome and its moderation move). */
  moved(old: Member, member: Member): void;
  /** While the link is down, notes that `member` was `known` as and is now `now`. */
  changed(member: Member, known: string | undefined, now: string | undefined): void;
}

/** Options for {@linkcode ChatSessions}. */
export interface ChatSessionsOptions {
  host: SessionHost;
  /** How long a client away may come back as itself; 0 for no sessions. */
  windowMs: number;
  /** Why sessions cannot be kept here (`/session` answers it), if they cannot. */
  off?: string;
  /** Where sessions outlive this server (Redis), if anywhere. */
  store?: SessionStore;
}

/** Whether `line` is a `/resume` command, in any case. */
export function isResume(line: Uint8Array): boolean {
  return line.length >= 7 && decoder.decode(line.subarray(0, 7)).toLowerCase() === "/resume";
}

/** The sessions of one chat mode. */
export class ChatSessions {
  #host: SessionHost;
  #windowMs: number;
  #off: string | undefined;
  /** Where sessions are shared with other servers (Redis), if they are. */
  #store: SessionStore | undefined;
  /** Sessions by token, and by the connection that has each now. */
  #sessions = new Map<string, Session>();
  #of = new Map<Member, Session>();
  /** Parked sessions, by the id of the connection that dropped (private lines for it are kept). */
  #parked = new Map<number, Session>();
  /** Connections whose session another connection took over: they leave without a word. */
  #takenOver = new Set<Member>();
  /** Connections resuming a shared session: what their rooms tell them meanwhile waits here. */
  #resuming = new Map<Member, Waiting[]>();
  /** Sessions whose record changed, saved at the end of this burst of work. */
  #unsaved = new Set<Session>();
  /**
   * Through Redis: the lines this server told in rooms where it has clients with sessions, by the
   * echo id each was published with, until they come back numbered; those clients are told them
   * then (or, if the link goes down first, or one takes too long, without a number at once).
   */
  #awaitingEcho = new Map<number, { key: string; line: string | Uint8Array; except?: Member; at: number }>();
  #echoIds = 0;
  /** The last number given a client with a session on one server, to mark the lines it says. */
  #authors = 0;

  constructor(options: ChatSessionsOptions) {
    this.#host = options.host;
    this.#windowMs = options.windowMs;
    this.#off = options.off;
    this.#store = options.windowMs > 0 && options.off === undefined ? options.store : undefined;
    const store = this.#store;
    if (store === undefined) return;
    // A connected client's session outlives this server by the window, not more; its rooms keep
    // their logs for as long.
    const refresh = setInterval(() => {
      for (const session of this.#of.values()) this.#save(session);
      for (const room of this.#host.rooms.values()) {
        if (room.sessions > 0) void store.keepLog(room.name).catch(() => {});
      }
    }, Math.min(this.#windowMs / 2, 30_000));
    Deno.unrefTimer(refresh);
    // A line whose batch Redis refused never comes back: its clients with sessions stop waiting.
    const late = setInterval(() => {
      const before = Date.now() - ECHO_WAIT_MS;
      for (const [id, entry] of this.#awaitingEcho) {
        if (entry.at >= before) break;
        this.#tellUnechoed(id);
      }
    }, ECHO_WAIT_MS / 2);
    Deno.unrefTimer(late);
  }

  /** Whether sessions are shared with other servers (Redis): the relay numbers the rooms' lines. */
  get shared(): boolean {
    return this.#store !== undefined;
  }

  /** Whether any client here has a session now. */
  get any(): boolean {
    return this.#of.size > 0;
  }

  /** The session of `member`, if it has one. */
  of(member: Member): Session | undefined {
    return this.#of.get(member);
  }

  /** Whether this server's clients with sessions wait for its own lines to come back numbered. */
  get echoing(): boolean {
    return this.#store !== undefined && this.#host.relay?.numbering === true;
  }

  /** Where the lines told to `member` wait while it resumes, if it does. */
  waiting(member: Member): Waiting[] | undefined {
    return this.#resuming.size > 0 ? this.#resuming.get(member) : undefined;
  }

  /** `/session`: gives `member` a session: a new token, the old one (if any) no longer good. */
  start(member: Member, person: Person): Step {
    const store = this.#store;
    if (this.#windowMs <= 0) return member.send("ERR sessions are off here (--resume-window 0)");
    if (this.#off !== undefined) return member.send(`ERR ${this.#off}`);
    const old = this.#of.get(member);
    if (old !== undefined) {
      this.#sessions.delete(old.token);
      store?.forget(old.token);
    }
    if (!person.inSession) {
      person.inSession = true;
      for (const room of person.rooms) room.sessions++;
    }
    if (store !== undefined) person.sid ??= newToken();
    else person.author ??= ++this.#authors;
    const session: Session = { token: newToken(), person, member, floor: old?.floor ?? new Map() };
    session.since = old?.since ?? this.#echoIds;
    this.#sessions.set(session.token, session);
    this.#of.set(member, session);
    const ready = () => {
      if (this.#sessions.get(session.token) !== session) return;
      this.#save(session);
      member.send(`* session ${session.token}`);
    };
    if (store === undefined) {
      for (const room of person.rooms) this.entered(member, room);
      return ready();
    }
    // The token is handed out once every floor is known: a resume anywhere finds them.
    const floors = person.rooms.filter((room) => !session.floor.has(room.key)).map((room) =>
      store.keepLog(room.name).then((seq) => {
        if (!session.floor.has(room.key)) session.floor.set(room.key, seq);
      }, () => {})
    );
    return Promise.all(floors).then(ready);
  }

  /**
   * `/resume TOKEN SEEN`: makes `member` (a new connection, welcomed as itself a moment ago) the
   * session of `token`: its name and rooms back, then every line it missed after `seen`, then a
   * new token. A token that is wrong, expired or used gets `ERR` and a fresh session.
   */
  resume(member: Member, fresh: Person, token: string, seen: string): Step {
    const last = parseLastSeen(seen);
    if (last === undefined) return member.send(RESUME_USAGE);
    if (this.#store !== undefined && looksLikeToken(token)) {
      return this.#resumeShared(member, fresh, token, last);
    }
    const session = looksLikeToken(token) ? this.#sessions.get(token) : undefined;
    if (session === undefined || this.#windowMs <= 0 || this.#off !== undefined) {
      member.send(NO_SESSION);
      return this.start(member, fresh);
    }
    return this.#resumeHere(member, fresh, session, last);
  }

  /**
   * `member`'s connection is gone (`parkable`: without `/quit`, and not closed by the operator).
   * Says whether that is all there is to it: its session was taken over (it leaves without a
   * word), or it is parked for the window. Otherwise its session (if any) ends, and it leaves.
   */
  left(member: Member, parkable: boolean): boolean {
    if (this.#takenOver.delete(member)) return true;
    const session = this.#of.get(member);
    if (session === undefined) return false;
    this.#of.delete(member);
    // Gone without saying so: kept for the window, its name held and its rooms not told.
    if (parkable) {
      // Gone before its join was told: its leave will not be either.
      session.untold = this.#host.settle(member);
      this.#park(session);
      return true;
    }
    this.#sessions.delete(session.token);
    this.#store?.forget(session.token);
    return false;
  }

  /** `person` (of `member`) entered `room`: with a session, it notes what it saw there unnumbered. */
  entered(member: Member, room: Room): void {
    const session = this.#of.get(member);
    if (session === undefined) return;
    const store = this.#store;
    if (store === undefined) {
      if (session.floor.has(room.key)) return;
      session.floor.set(room.key, room.replay?.last ?? 0);
      return this.#saveSoon(session);
    }
    // The room keeps its log from now on, for as long as this session may need it; the floor is
    // its counter, read after the lines this server published before (one connection keeps the order).
    void store.keepLog(room.name).then((seq) => {
      // Parked meanwhile or not, a session still kept gets it.
      if (this.#sessions.get(session.token) !== session || session.floor.has(room.key)) return;
      session.floor.set(room.key, seq);
      this.#saveSoon(session);
    }, () => {});
  }

  /** `member` left `room`. */
  exited(member: Member, room: Room): void {
    const session = this.#of.get(member);
    if (session === undefined) return;
    session.floor.delete(room.key);
    this.#saveSoon(session);
  }

  /** `member` was renamed. */
  renamed(member: Member): void {
    const session = this.#of.get(member);
    if (session !== undefined) this.#saveSoon(session);
  }

  /**
   * A private line for connection `id`, not open here: kept if it is a session parked here (here,
   * or in Redis for whichever server resumes it); says whether it was.
   */
  keepPrivate(id: number, line: string | Uint8Array): boolean {
    const session = this.#parked.get(id);
    if (session === undefined) return false;
    const store = this.#store;
    if (store === undefined) {
      if (session.parked !== undefined && session.parked.privates.length < MAX_PARKED_PRIVATES) {
        session.parked.privates.push(line);
      }
      return true;
    }
    const bytes = typeof line === "string" ? encoder.encode(line) : line;
    void store.keepPrivate(session.token, bytes).then((moved) => {
      // Resumed elsewhere meanwhile: on to where it went.
      if (moved === undefined) return;
      if (moved.node === store.node) this.#host.members.get(moved.id)?.send(bytes);
      else this.#host.relay?.publish(bytes, "private", moved.id);
    }, () => {});
    return true;
  }

  /** A control line for connection `to`: says whether it was a session's (resumed elsewhere). */
  control(to: number, word: string): boolean {
    if (word !== RESUMED) return false;
    this.#letGo(to);
    return true;
  }

  /**
   * Publishes `line`, told here already, in room `room`, said by `except` if by a client. Where this
   * server has clients with sessions in the room, they wait for it to come back numbered: it goes
   * with an echo id, and waits here until then.
   */
  publish(room: string, line: string | Uint8Array, kind: LineKind, except?: Member): void {
    const { relay, people, rooms } = this.#host;
    const by = except === undefined ? undefined : people.get(except)?.sid;
    const key = this.#host.keyOf(room);
    if (!this.echoing || !((rooms.get(key)?.sessions ?? 0) > 0)) {
      return relay?.publish(line, kind, room, { by });
    }
    const echo = ++this.#echoIds;
    this.#awaitingEcho.set(echo, { key, line, except, at: Date.now() });
    // Far more on their way than a round trip's worth: the oldest is not waited for any more.
    if (this.#awaitingEcho.size > MAX_AWAITING_ECHO) {
      this.#tellUnechoed(this.#awaitingEcho.keys().next().value!);
    }
    relay!.publish(line, kind, room, { by, echo });
  }

  /** One of this server's lines came back numbered: its clients with sessions, who waited, are told it. */
  echo(delivered: RoomLine): void {
    const id = delivered.echoId!;
    const entry = this.#awaitingEcho.get(id);
    if (entry === undefined) return;
    this.#awaitingEcho.delete(id);
    const room = this.#host.rooms.get(entry.key);
    if (room !== undefined && room.sessions > 0) {
      this.#host.tell(room, delivered.line, entry.except, delivered);
    }
  }

  /** Whether `session`'s client was told the echo `from` already, as it was said. */
  heard(session: Session, person: Person, from: RoomLine): boolean {
    return (from.by !== undefined && from.by === person.sid) || (session.since ?? 0) >= from.echoId!;
  }

  /**
   * The link went down or came back: what was on its way back may never come; it is told now.
   * Back, the floors a session could not learn meanwhile are asked for again.
   */
  link(up: boolean): void {
    for (const id of [...this.#awaitingEcho.keys()]) this.#tellUnechoed(id);
    if (!up) return;
    for (const [member, session] of this.#of) {
      for (const room of session.person.rooms) if (!session.floor.has(room.key)) this.entered(member, room);
    }
  }

  /** Tells the clients with sessions that wait for the line `id` now, without a number. */
  #tellUnechoed(id: number): void {
    const entry = this.#awaitingEcho.get(id);
    if (entry === undefined) return;
    this.#awaitingEcho.delete(id);
    const room = this.#host.rooms.get(entry.key);
    if (room === undefined || room.sessions === 0) return;
    for (const [member, person] of room.members) {
      const session = member === entry.except ? undefined : this.#of.get(member);
      if (session === undefined || (session.since ?? 0) >= id) continue;
      const waiting = this.#resuming.get(member);
      if (waiting !== undefined) waiting.push({ room, line: entry.line });
      else this.#host.sendFrom(room, member, person, entry.line);
    }
  }

  /** Saves `session` where other servers find it (Redis), if there is such a place. */
  #save(session: Session): void {
    this.#unsaved.delete(session);
    const store = this.#store;
    if (store === undefined) return;
    const { person, member } = session;
    store.save(session.token, {
      sid: person.sid!,
      name: person.name,
      rooms: person.rooms.map((room) => room.name),
      current: person.current?.name,
      node: store.node,
      id: member.id,
      floor: Object.fromEntries(session.floor),
    });
  }

  /** Saves `session` at the end of this burst of work (a resume enters many rooms at once). */
  #saveSoon(session: Session): void {
    if (this.#store === undefined || this.#unsaved.has(session)) return;
    this.#unsaved.add(session);
    queueMicrotask(() => {
      if (this.#unsaved.has(session) && this.#sessions.get(session.token) === session) this.#save(session);
      this.#unsaved.delete(session);
    });
  }

  /** Keeps a session whose connection dropped, for the window; then its leave is told. */
  #park(session: Session): void {
    const host = this.#host;
    const member = session.member;
    const timer = setTimeout(() => {
      if (session.parked?.timer !== timer) return;
      this.#sessions.delete(session.token);
      this.#store?.forget(session.token);
      this.#parked.delete(member.id);
      const person = host.people.get(member);
      if (person === undefined) return;
      host.people.delete(member);
      host.forget(member);
      void host.names.release(person.name, member.id);
      host.changed(member, person.name, undefined);
      for (const room of [...person.rooms]) {
        if (!session.untold) host.broadcast(room, `* ${person.name} left`, member);
        host.exit(member, person, room);
      }
    }, this.#windowMs);
    Deno.unrefTimer(timer);
    session.parked = { timer, privates: [] };
    this.#parked.set(member.id, session);
    // The window runs from now for whichever server it comes back to.
    this.#save(session);
  }

  /**
   * The session of connection `id` (parked, or still connected) was resumed by another connection,
   * here or on another server: its person goes without a word (its name went with the session),
   * and a connection still open is told why and closed.
   */
  #letGo(id: number): void {
    const host = this.#host;
    const parked = this.#parked.get(id);
    const member = parked?.member ?? host.members.get(id);
    const session = parked ?? (member === undefined ? undefined : this.#of.get(member));
    const person = member === undefined ? undefined : host.people.get(member);
    if (member === undefined || session === undefined || person === undefined) return;
    this.#sessions.delete(session.token);
    this.#of.delete(member);
    if (parked !== undefined) {
      clearTimeout(parked.parked?.timer);
      parked.parked = undefined;
      this.#parked.delete(id);
    }
    host.people.delete(member);
    host.forget(member);
    void host.names.release(person.name, id);
    for (const room of [...person.rooms]) host.exit(member, person, room);
    if (parked === undefined) this.#takeOver(member);
  }

  /** Closes `old`, whose session another connection has now, telling it why. */
  #takeOver(old: Member): void {
    this.#takenOver.add(old);
    this.#of.delete(old);
    old.send("* your session was resumed on another connection");
    old.close("session taken over");
  }

  /** On one server: `member` becomes `session`'s person, moved over from the connection that had it. */
  #resumeHere(member: Member, fresh: Person, session: Session, last: Map<string, number>): Step {
    const host = this.#host;
    if (session.member === member) return member.send("ERR this is that session already");
    const old = session.member;
    // Its old connection is still open (half-dead, say): this one takes over.
    if (session.parked === undefined) this.#takeOver(old);
    clearTimeout(session.parked?.timer);
    const privates = session.parked?.privates ?? [];
    session.parked = undefined;
    this.#parked.delete(old.id);
    // The fresh one was never announced (its first line was this): it goes without a word.
    host.settle(member);
    for (const room of [...fresh.rooms]) host.exit(member, fresh, room);
    void host.names.release(fresh.name, member.id);
    // The person moves to the new connection, under the same name, in the same rooms.
    const { person } = session;
    void host.names.release(person.name, old.id);
    void andThen(host.names.claim(person.name, member.id), (won) => {
      // Shared with other servers, the name may have gone to someone else in between.
      if (won || host.people.get(member) !== person) return;
      const fallback = `user${member.id}`;
      const was = person.name;
      void host.names.claim(fallback, member.id);
      host.rename(member, person, fallback);
      member.send(`* ${was} was taken by someone else meanwhile; you are now ${fallback}`);
      for (const room of person.rooms) host.broadcast(room, `* ${was} is now ${fallback}`, member);
    });
    host.people.delete(old);
    host.people.set(member, person);
    host.moved(old, member);
    for (const room of person.rooms) {
      room.members.delete(old);
      room.members.set(member, person);
    }
    host.directory.moved(old.id, []);
    host.directory.moved(member.id, person.rooms.map((room) => room.name));
    this.#sessions.delete(session.token);
    session.token = newToken();
    session.member = member;
    this.#sessions.set(session.token, session);
    this.#of.set(member, session);
    // What it missed, in the order it was told, each line numbered as live ones are.
    const missed: { room: Room; entry: Replayed }[] = [];
    let lost = 0;
    for (const room of person.rooms) {
      const after = room.replay?.after(seenIn(room, last, session));
      if (after === undefined) continue;
      lost += after.lost;
      // What it said itself, it saw as it said it.
      for (const entry of after.lines) if (entry.author !== person.author) missed.push({ room, entry });
    }
    missed.sort((a, b) => a.entry.order - b.entry.order);
    member.send(resumedLine(person.name, missed.length + privates.length, lost));
    for (const { room, entry } of missed) member.send(host.numbered(room, person, entry.line, entry.seq));
    for (const line of privates) member.send(line);
    member.send(`* session ${session.token}`);
  }

  /**
   * Through Redis: makes `member` the session of `token`, wherever it was held (here, on another
   * server, or on a server that has stopped since). The session is taken from Redis (once), its
   * name handed over with its claim's age, and the connection that had it told to let go; then
   * `member` enters its rooms, listens to them, and is sent what their logs kept after what it saw
   * (each room in its order, rooms merged by time), then the private lines kept for it, then what
   * its rooms told it meanwhile that the logs did not have yet, then a new token.
   */
  async #resumeShared(
    member: Member,
    fresh: Person,
    token: string,
    last: Map<string, number>,
  ): Promise<void> {
    const host = this.#host;
    const store = this.#store!;
    if (this.#of.get(member)?.token === token) return member.send("ERR this is that session already");
    // Never announced (its first line was this), it is not while it becomes someone.
    host.settle(member);
    const waiting: Waiting[] = [];
    this.#resuming.set(member, waiting);
    const here = () => host.people.get(member) === fresh;
    try {
      let unreachable = false;
      const taken = await store.take(token, member.id).catch(() => {
        unreachable = true;
        return undefined;
      });
      if (!here()) {
        // Gone meanwhile: the session stays for another try.
        if (taken !== undefined) store.save(token, taken.session);
        return;
      }
      if (taken === undefined) {
        this.#resuming.delete(member);
        member.send(unreachable ? UNREACHABLE : NO_SESSION);
        host.announceJoin(member);
        return this.start(member, fresh);
      }
      const { session: record, privates } = taken;
      const outcome =
        await Promise.resolve(host.names.takeOver?.(record.name, member.id, `${record.node}|${record.id}`))
          .catch(() => undefined) ?? "taken";
      if (!here()) return void host.names.release(record.name, member.id);
      // The connection that had it lets go: here at once, elsewhere when it is told.
      if (record.node === store.node) this.#letGo(record.id);
      else host.relay?.publish(RESUMED, "control", record.id);
      // Out of the start room it was put in (unannounced), and in as the session's person.
      for (const room of [...fresh.rooms]) host.exit(member, fresh, room);
      if (outcome !== "taken") {
        void host.names.release(fresh.name, member.id);
        host.rename(member, fresh, record.name);
      }
      const person = fresh;
      person.sid = record.sid;
      person.inSession = true;
      const session: Session = {
        token: newToken(),
        person,
        member,
        floor: new Map(Object.entries(record.floor)),
        since: this.#echoIds,
      };
      this.#sessions.set(session.token, session);
      this.#of.set(member, session);
      for (const name of record.rooms.slice(0, MAX_ROOMS_PER_CLIENT)) {
        const key = roomKey(name);
        if (!person.rooms.some((room) => room.key === key)) {
          host.enter(member, person, host.rooms.get(key)?.name ?? name);
        }
      }
      const current = record.current === undefined ? undefined : roomKey(record.current);
      person.current = person.rooms.find((room) => room.key === current) ?? person.rooms.at(-1);
      if (outcome === "taken") {
        member.send(`* ${record.name} was taken by someone else meanwhile; you are now ${person.name}`);
      }
      // Its rooms were told it left (its server stopped, or the window passed there): it is back.
      if (outcome !== "kept") {
        for (const room of person.rooms) host.broadcast(room, `* ${person.name} joined`, member);
      }
      // It listens to each room before the log is read, so that no line falls between the two.
      await Promise.all(person.rooms.map((room) => host.relay?.enter?.(room.name)));
      const logs = await Promise.all([...person.rooms].map((room) => {
        const seen = seenIn(room, last, session);
        return store.missed(room.name, seen).then(
          (log) => ({ room, seen, ...log, unread: false }),
          () => ({ room, seen, lines: [], lost: 0, unread: true }),
        );
      }));
      if (host.people.get(member) !== person) return;
      // Each room's lines in their order; the rooms merged by when each line was said.
      const missed: Waiting[] = [];
      const heads = logs.map(() => 0);
      for (;;) {
        let next = -1;
        for (const [i, log] of logs.entries()) {
          if (
            heads[i] < log.lines.length &&
            (next === -1 || log.lines[heads[i]].at < logs[next].lines[heads[next]].at)
          ) {
            next = i;
          }
        }
        if (next === -1) break;
        const entry = logs[next].lines[heads[next]++];
        // What it said itself, it saw as it said it.
        if (entry.by === undefined || entry.by !== person.sid) {
          missed.push({ room: logs[next].room, line: entry.line, seq: entry.seq });
        }
      }
      const lost = logs.reduce((sum, log) => sum + log.lost, 0);
      const unread = logs.filter((log) => log.unread).map((log) => log.room.name);
      member.send(
        resumedLine(person.name, missed.length + privates.length, lost) +
          (unread.length > 0 ? `; what ${unread.join(", ")} said meanwhile cannot be read now (Redis)` : ""),
      );
      for (const { room, line, seq } of missed) member.send(host.numbered(room, person, line, seq!));
      for (const line of privates) member.send(line);
      // What its rooms told it while the logs were read: the lines the logs did not have yet.
      const upTo = new Map(logs.map((log) => [log.room, Math.max(log.seen, log.lines.at(-1)?.seq ?? 0)]));
      this.#resuming.delete(member);
      for (const { room, line, seq } of waiting) {
        if (!person.rooms.includes(room)) continue;
        if (seq === undefined) host.sendFrom(room, member, person, line);
        else if (seq > (upTo.get(room) ?? 0)) member.send(host.numbered(room, person, line, seq));
      }
      this.#save(session);
      member.send(`* session ${session.token}`);
    } finally {
      this.#resuming.delete(member);
    }
  }
}

/**
 * The last number of `room` its client saw: what it says, or what it saw before it had a session
 * (or the room) without numbers, whichever is later: that is not sent again.
 */
function seenIn(room: Room, last: Map<string, number>, session: Session): number {
  return Math.max(last.get(room.name) ?? last.get(room.key) ?? 0, session.floor.get(room.key) ?? 0);
}

/** `* resumed as zoe; 3 missed lines follow`, with how many were lost if any were. */
function resumedLine(name: string, count: number, lost: number): string {
  const lostNote = lost > 0 ? `; ${lost} more were lost (more was said than this server keeps)` : "";
  return `* resumed as ${name}; ${count} missed line${count === 1 ? "" : "s"} follow${
    count === 1 ? "s" : ""
  }${lostNote}`;
}
