/**
 * Chat mode: a room where each line is relayed to everyone else as `<NAME> text`.
 *
 * Clients start as `user<ID>`; `/nick NAME` renames, `/who` lists who is here, `/help` says so.
 * Joins, leaves and renames are announced to the others as `* ...` lines. Names may be of any
 * script and are unique by their key (`protocol/names.ts`: case, compatibility forms and
 * confusable letters folded), so nobody can pass for someone else; `user<digits>` and `operator`
 * stay reserved for the server. A relayed line is built once and copied into each recipient's output
 * queue; a recipient that stops reading is dropped by its connection, never waited for.
 *
 * Nothing a client sends can drive another client's terminal: every relayed line, and every name
 * or command echoed back in an `ERR`, has its control characters, C1, DEL and bidi overrides
 * escaped, for `nc` users as much as for Parley's own client.
 *
 * Names live in the registry and lines also go to the relay, so the same mode serves one process,
 * the workers of one server, or a room spread over several machines: what differs is only which
 * registry and which relay it is given. With a history, a newcomer is first sent the last lines
 * said, each marked `* history <time>`, and nothing said while it was being fetched is lost or
 * sent twice.
 */

import { escapeLine, escapeText } from "../../protocol/escape.ts";
import { isReserved, NAME_RULE, nameKey, parseName } from "../../protocol/names.ts";
import type { Names } from "../../registry/registry.ts";
import type { LineKind, Relay, RoomLine } from "../../relay/relay.ts";
import { andThen } from "../../util/awaitable.ts";
import { formatHistoryEntry, type History, type HistorySnapshot } from "../../history/history.ts";
import type { Members } from "../members.ts";
import type { Transcript } from "../transcript.ts";
import type { Member, Mode, Step } from "./mode.ts";

const SLASH = 0x2f;
const SPACE = 0x20;
const TAB = 0x09;
/** Most changes named in the one line that tells the other rooms what they missed in an outage. */
const MAX_CHANGES_SHOWN = 5;
/**
 * How long after the link is back that line goes out: longer than the longest back-off of any
 * server's reconnect (5 s, `redis/link.ts`), so that the others have resubscribed and hear it.
 */
const HEAL_NEWS_DELAY_MS = 6000;
/** What `/help` says. */
export const CHAT_HELP = `* commands: /nick NAME (${NAME_RULE}), /who, /me TEXT, /msg NAME TEXT, ` +
  "/quit [REASON], /help; " +
  "commands are case-insensitive; any other line goes to everyone (//text for a line that starts with /)";
/** How each command is used, as a client that used it wrongly is told. */
const USAGE = {
  nick: `ERR usage: /nick NAME (${NAME_RULE})`,
  who: "ERR usage: /who",
  me: "ERR usage: /me TEXT (an action: * NAME TEXT)",
  msg: "ERR usage: /msg NAME TEXT (a private message)",
} as const;
/** The longest `/quit` reason passed on, in characters. */
const MAX_QUIT_REASON = 200;
/** What everyone here is told when the link to the other servers goes down, and comes back. */
export const LINK_LOST = "* link to other servers lost; this server's room only";
export const LINK_BACK = "* link to other servers is back; the room is whole again";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A member's name, and `<NAME> ` encoded once, put before every line it says. */
interface Speaker {
  name: string;
  prefix: Uint8Array;
}

function speaker(name: string): Speaker {
  return { name, prefix: encoder.encode(`<${name}> `) };
}

/** A line that reached the room while a newcomer waited for the history; `from` if delivered. */
interface Pending {
  line: string | Uint8Array;
  from?: RoomLine;
}

/** Options for {@linkcode createChatMode}. */
export interface ChatModeOptions {
  /** This server's clients. */
  members: Members;
  /** Chat names, shared with every room that the relay links. */
  names: Names;
  /** The link to rooms served elsewhere (other workers, other servers), if any. */
  relay?: Relay;
  /** The last lines said, sent to each newcomer first (`--history`). */
  history?: History;
  /** Where every line said here is written down (`--transcript`). */
  transcript?: Transcript;
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

/** Creates a chat mode. */
export function createChatMode(options: ChatModeOptions): Mode {
  const { members, names, relay, history, transcript, historyBytes = 1 << 19, settleMs = 1000 } = options;
  /** Newcomers welcomed whose join the others have not been told yet, with the timer that will. */
  const unsettled = new Map<Member, ReturnType<typeof setTimeout>>();
  /** The order members were welcomed in: a join is told to those who were there before it. */
  const welcomed = new Map<Member, number>();
  let welcomes = 0;
  /** Members welcomed into the conversation. */
  const speakers = new Map<Member, Speaker>();
  /** Members that said `/quit`, with their reason (escaped; empty for none). */
  const quitting = new Map<Member, string>();
  /**
   * Members whose join waits for the registry (`null`), or for the history, with what the room
   * said meanwhile (a round trip's worth, since history answers or fails within a deadline).
   */
  const joining = new Map<Member, Pending[] | null>();
  /** Whether the link to the other rooms is up: a newcomer while it is down is told the room is partial. */
  let linkUp = true;
  /**
   * While the link is down, what the other rooms have not seen of this room's members: the name
   * they last knew (none for a newcomer) and the name now (none once it left).
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

  /** What changed here while the other rooms could not hear it, in one line; `undefined` if nothing. */
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

  relay?.open({
    deliver(delivered) {
      if (delivered.kind === "private") return members.get(delivered.to!)?.send(delivered.line);
      history?.record(delivered, Date.now());
      tell(delivered.line, undefined, delivered);
    },
    link: (up) => {
      linkUp = up;
      tell(up ? LINK_BACK : LINK_LOST);
      clearTimeout(newsTimer);
      const news = up ? unseenNews() : undefined;
      unseen.clear();
      if (news === undefined) return;
      // The other servers may not be back yet: each reconnects on its own back-off, at most 5 s.
      newsTimer = setTimeout(() => relay?.publish(news), HEAL_NEWS_DELAY_MS);
      Deno.unrefTimer(newsTimer);
    },
  });
  names.watch?.({
    lost(name, owner) {
      const member = members.get(owner);
      if (member === undefined || speakers.get(member)?.name !== name) return;
      const fallback = `user${owner}`;
      void names.claim(fallback, owner);
      speakers.set(member, speaker(fallback));
      member.send(
        `* ${name} was taken elsewhere, by an earlier claim, while the link was down; ` +
          `you are now ${fallback}`,
      );
      broadcast(`* ${name} is now ${fallback}`, member);
    },
    departed(gone) {
      for (const name of gone) broadcast(`* ${name} left`);
    },
    returned(back) {
      // Only the other servers had counted them as gone.
      for (const name of back) relay?.publish(`* ${name} joined`);
    },
  });

  /** Tells everyone here but `except`; newcomers waiting for the history get it after. */
  function tell(line: string | Uint8Array, except?: Member, from?: RoomLine): void {
    for (const member of speakers.keys()) {
      if (member !== except) member.send(line);
    }
    if (joining.size === 0) return;
    for (const pending of joining.values()) pending?.push({ line, from });
  }

  /** Tells everyone, here and elsewhere, but `except`. */
  function broadcast(line: string | Uint8Array, except?: Member, kind: LineKind = "notice"): void {
    tell(line, except);
    relay?.publish(line, kind);
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
    speakers.set(member, speaker(name));
    welcomed.set(member, ++welcomes);
    if (settleMs <= 0) return announceJoin(member);
    const timer = setTimeout(() => announceJoin(member), settleMs);
    Deno.unrefTimer(timer); // a shutdown does not wait for it
    unsettled.set(member, timer);
  }

  /** Tells the others that `member` joined, under the name it has now. */
  function announceJoin(member: Member): void {
    clearTimeout(unsettled.get(member));
    unsettled.delete(member);
    const current = speakers.get(member);
    // Gone meanwhile, or the server is shutting down (the room is emptied without leaves).
    if (current === undefined || members.get(member.id) !== member) return;
    changed(member, undefined, current.name);
    // Who came after it was welcomed with it in the count already, and is not told again.
    const line = `* ${current.name} joined`;
    const order = welcomed.get(member)!;
    for (const [other] of speakers) if (welcomed.get(other)! < order) other.send(line);
    relay?.publish(line);
  }

  function nick(member: Member, current: Speaker, text: string): Step {
    const parsed = parseName(text);
    if ("error" in parsed) {
      return member.send(`ERR invalid name "${escapeText(text.slice(0, 40))}": ${parsed.error}`);
    }
    const { name } = parsed;
    if (isReserved(name) && nameKey(name) !== nameKey(current.name)) {
      member.send(`ERR name ${name} is reserved`);
    } else {
      return andThen(names.claim(name, member.id), (won) => {
        if (!speakers.has(member)) {
          // It left while the registry answered: the name must not outlive it.
          if (won) void names.release(name, member.id);
          return;
        }
        if (!won) return member.send(`ERR name ${name} is taken`);
        // Read again: the registry may have renamed it (lost) while it answered.
        const old = speakers.get(member)!.name;
        if (nameKey(old) !== nameKey(name)) void names.release(old, member.id);
        speakers.set(member, speaker(name));
        changed(member, old, name);
        member.send(`* you are now ${name}`);
        broadcast(`* ${old} is now ${name}`, member);
      });
    }
  }

  function command(member: Member, current: Speaker, text: string): Step {
    const [verb, ...rest] = text.split(" ");
    const argument = rest.join(" ").trim();
    switch (verb.toLowerCase()) {
      case "/nick":
        return argument === "" ? member.send(USAGE.nick) : nick(member, current, argument);
      case "/who":
        if (argument !== "") return member.send(USAGE.who);
        return andThen(names.list(), (list) => member.send(`* online: ${list.join(", ")}`));
      case "/me":
        return argument === "" ? member.send(USAGE.me) : say(member, current, "action", argument);
      case "/msg": {
        const [to, ...words] = argument.split(" ");
        const text = words.join(" ").trim();
        return to === "" || text === "" ? member.send(USAGE.msg) : message(member, current, to, text);
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
   * Sends `text` from `current` to the holder of the name `to` alone, wherever it is served (the
   * room that serves it delivers it), and tells the sender it went.
   */
  function message(member: Member, current: Speaker, to: string, text: string): Step {
    return andThen(names.holder(to), (owner) => {
      const shown = escapeText(to.slice(0, 64));
      if (owner === undefined) return member.send(`ERR no such name ${shown}`);
      const line = `* private from ${current.name}: ${escapeText(text)}`;
      const here = members.get(owner);
      if (here !== undefined) here.send(line);
      else relay?.publish(line, "private", owner);
      member.send(`* private to ${shown}: ${escapeText(text)}`);
      transcript?.write({ name: current.name, kind: "private", to, text });
    });
  }

  /**
   * Says `text` to everyone else as `current`: a line (`<alice> text`) or an action (`* alice
   * text`), kept in the history and the transcript.
   */
  function say(member: Member, current: Speaker, kind: "said" | "action", text: string | Uint8Array): void {
    const prefix = kind === "said" ? current.prefix : encoder.encode(`* ${current.name} `);
    const escaped = typeof text === "string" ? encoder.encode(escapeText(text)) : escapeLine(text);
    const line = new Uint8Array(prefix.length + escaped.length);
    line.set(prefix);
    line.set(escaped, prefix.length);
    history?.record({ line, kind: "said" }, Date.now());
    broadcast(line, member, "said");
    transcript?.write({
      name: current.name,
      kind,
      text: typeof text === "string" ? text : decoder.decode(text),
    });
  }

  return {
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
        // From here on, what the room says waits for it, after the history.
        joining.set(member, []);
        return andThen(history.recent(), (snapshot) => {
          if (joining.has(member)) welcome(member, name, online, snapshot);
        });
      });
    },
    line(member, line) {
      const current = speakers.get(member);
      if (current === undefined) return;
      // Its first line settles it: the others hear it joined before they hear what it says.
      if (unsettled.has(member)) announceJoin(member);
      // "//text" is how a line that starts with a slash is said.
      if (line[0] === SLASH && line[1] !== SLASH) return command(member, current, decoder.decode(line));
      // An empty line (or one of blanks) says nothing.
      if (line.every((byte) => byte === SPACE || byte === TAB)) return;
      say(member, current, "said", line[0] === SLASH ? line.subarray(1) : line);
    },
    leave(member) {
      const why = quitting.get(member);
      quitting.delete(member);
      if (joining.delete(member)) return void names.release(`user${member.id}`, member.id);
      const current = speakers.get(member);
      if (current === undefined) return;
      speakers.delete(member);
      welcomed.delete(member);
      void names.release(current.name, member.id);
      if (unsettled.has(member)) {
        // Gone before it settled: it was never announced, so its leave is not either.
        clearTimeout(unsettled.get(member));
        unsettled.delete(member);
        return;
      }
      changed(member, current.name, undefined);
      broadcast(`* ${current.name} left${why ? ` (${why})` : ""}`);
    },
  };
}
