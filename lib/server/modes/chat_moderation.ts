/**
 * The chat operator's moderation: `/kick`, `/mute`, `/ban` of a name wherever it is served, and
 * bans of addresses on every server. An action on a client served here is carried out here and told
 * to its rooms (instead of a `left`); one on a client served elsewhere goes as a control line (relay
 * kind `control`) to the isolate that serves it, which carries it out the same way. Bans are refused
 * at every server's door (`Bans`), kept for servers that start later (`BanStore`), and asked for again
 * by a server whose link comes back (`bans?`).
 */

import type { BanStore } from "../../backend.ts";
import { KICKED } from "../../protocol/goodbye.ts";
import { escapeText } from "../../protocol/escape.ts";
import type { Names } from "../../registry/registry.ts";
import type { Relay } from "../../relay/relay.ts";
import { AccessEntryError, type Ban, type Bans } from "../access_list.ts";
import type { Members } from "../members.ts";
import type { Transcript } from "../transcript.ts";
import type { Member } from "./mode.ts";

/** What the operator may do to a member. */
export type Moderation =
  | { kind: "kick"; reason: string }
  | { kind: "mute"; minutes: number }
  | { kind: "unmute" }
  | { kind: "ban"; minutes: number };

/** The recipient of a control line for every isolate (no connection has it). */
const EVERYONE = 0;
/** The longest kick reason passed on, in characters. */
const MAX_REASON = 200;

/** What moderation needs of the chat it serves. */
export interface ModerationContext {
  /** This isolate's clients, by id. */
  members: Members;
  names: Names;
  relay?: Relay;
  bans?: Bans;
  banStore?: BanStore;
  transcript?: Transcript;
  /** The name `member` goes by here, if it was welcomed. */
  nameOf(member: Member): string | undefined;
  /** Tells the rooms of `member` `line`, here and elsewhere, but not `member` itself. */
  tellRoomsOf(member: Member, line: string): void;
  /** Every member welcomed here. */
  everyone(): Iterable<Member>;
}

/** Mutes, kicks and bans, for one isolate's chat. */
export class Moderator {
  /** Members the operator closed: their rooms were told why, and hear no `left` after. */
  readonly removed = new Set<Member>();
  /** Muted members, until when (ms since the epoch). */
  #muted = new Map<Member, number>();
  #context: ModerationContext;

  constructor(context: ModerationContext) {
    this.#context = context;
  }

  /** Whether `member` is muted now. */
  isMuted(member: Member): boolean {
    return this.#muted.has(member);
  }

  /** Tells a muted member so, and says whether it is muted (an expired mute is lifted). */
  mutedNotice(member: Member): boolean {
    if (this.#muted.size === 0) return false;
    const until = this.#muted.get(member);
    if (until === undefined) return false;
    const left = until - Date.now();
    if (left <= 0) {
      this.#muted.delete(member);
      return false;
    }
    member.send(`ERR you are muted for ${Math.ceil(left / 60_000)} more minute${left > 60_000 ? "s" : ""}`);
    return true;
  }

  /** `to` is `from` now (a resumed session): a mute goes with it. */
  moved(from: Member, to: Member): void {
    const until = this.#muted.get(from);
    this.#muted.delete(from);
    if (until !== undefined) this.#muted.set(to, until);
  }

  /** `member` left: nothing is kept for it. */
  forget(member: Member): void {
    this.#muted.delete(member);
  }

  /** Carries out `action` on the holder of `name`, wherever it is served; says what happened. */
  async moderate(name: string, action: Moderation): Promise<string> {
    const { names, members, relay, transcript } = this.#context;
    const owner = await names.holder(name);
    const shown = escapeText(name.slice(0, 64));
    if (owner === undefined) return `no such name ${shown}`;
    transcript?.write({ name: "operator", kind: "moderation", to: name, text: controlLine(action) });
    const here = members.get(owner);
    if (here !== undefined) return this.apply(here, action);
    if (relay === undefined) return `no such name ${shown} here`;
    relay.publish(controlLine(action), "control", owner);
    return `${action.kind}: sent to the server that holds ${shown}`;
  }

  /** Bans an address or CIDR block for `minutes`, on every server; says what happened. */
  ban(entry: string, minutes: number): string {
    const until = Date.now() + minutes * 60_000;
    try {
      this.#banHere(entry, until);
    } catch (error) {
      if (error instanceof AccessEntryError) return error.message;
      throw error;
    }
    this.#spread(entry, until);
    const text = `ban ${entry} for ${minutes} minutes`;
    this.#context.transcript?.write({ name: "operator", kind: "moderation", to: entry, text });
    return `banned ${entry} for ${minutes} minute${minutes === 1 ? "" : "s"}, on every server`;
  }

  /** Lifts a ban, on every server; says what happened. */
  unban(entry: string): string {
    const { bans, relay, banStore, transcript } = this.#context;
    const lifted = bans?.remove(entry) ?? false;
    relay?.publish(`unban ${entry}`, "control", EVERYONE);
    banStore?.remove(entry).catch(() => {/* the others were told; a later server may not be */});
    transcript?.write({ name: "operator", kind: "moderation", to: entry, text: `unban ${entry}` });
    return lifted ? `lifted the ban on ${entry}` : `${entry} was not banned here; told the others`;
  }

  /** The bans in force here. */
  bans(): Ban[] {
    return this.#context.bans?.entries() ?? [];
  }

  /**
   * Asks the other isolates for the bans in force (a server whose link is back has missed some);
   * each answers with its own, as `ban-address` lines.
   */
  askForBans(): void {
    if (this.#context.bans !== undefined) this.#context.relay?.publish("bans?", "control", EVERYONE);
  }

  /** A control line from the operator of another isolate, for connection `to` (0: for every one). */
  obey(to: number, line: string): void {
    const [verb, first = "", second = ""] = line.split(" ");
    if (to === EVERYONE) {
      try {
        if (verb === "ban-address" && /^\d{1,16}$/.test(second)) this.#banHere(first, Number(second));
        else if (verb === "unban") this.#context.bans?.remove(first);
        else if (verb === "bans?") this.#shareBans();
      } catch (error) {
        if (!(error instanceof AccessEntryError)) throw error;
      }
      return;
    }
    const member = this.#context.members.get(to);
    if (member === undefined) return;
    const minutes = Number(first);
    if (verb === "kick") this.apply(member, { kind: "kick", reason: line.slice("kick ".length) });
    else if (verb === "unmute") this.apply(member, { kind: "unmute" });
    else if ((verb === "mute" || verb === "ban") && Number.isSafeInteger(minutes) && minutes > 0) {
      this.apply(member, { kind: verb, minutes });
    }
  }

  /** Carries out `action` on `member`, served here; says what happened. */
  apply(member: Member, action: Moderation): string {
    const { nameOf, tellRoomsOf } = this.#context;
    const name = nameOf(member) ?? `user${member.id}`;
    const welcomed = nameOf(member) !== undefined;
    const minutes = (n: number) => `${n} minute${n === 1 ? "" : "s"}`;
    switch (action.kind) {
      case "kick": {
        const why = action.reason === "" ? "" : escapeText(action.reason.slice(0, MAX_REASON));
        this.#remove(
          member,
          `* ${name} was kicked by the operator${why ? ` (${why})` : ""}`,
          `* kicked by the operator${why ? `: ${why}` : ""}`,
        );
        return `kicked ${name}`;
      }
      case "mute":
        this.#muted.set(member, Date.now() + action.minutes * 60_000);
        if (welcomed) {
          tellRoomsOf(member, `* ${name} was muted by the operator for ${minutes(action.minutes)}`);
        }
        member.send(`* you are muted by the operator for ${minutes(action.minutes)}`);
        return `muted ${name} for ${minutes(action.minutes)}`;
      case "unmute":
        this.#muted.delete(member);
        if (welcomed) tellRoomsOf(member, `* ${name} may speak again`);
        member.send("* you may speak again");
        return `unmuted ${name}`;
      case "ban": {
        if (member.ip === undefined) {
          this.#remove(member, `* ${name} was kicked by the operator`, "* kicked by the operator");
          return `kicked ${name}: it has no address to ban (a Unix socket)`;
        }
        const until = Date.now() + action.minutes * 60_000;
        this.#remove(
          member,
          `* ${name} was banned by the operator for ${minutes(action.minutes)}`,
          `* banned by the operator for ${minutes(action.minutes)}`,
        );
        this.#banHere(member.ip, until);
        this.#spread(member.ip, until);
        return `banned ${name} (${member.ip}) for ${minutes(action.minutes)}`;
      }
    }
  }

  /** Closes `member` for the operator, its rooms told `line` (instead of a `left`), it told `told`. */
  #remove(member: Member, line: string, told: string): void {
    if (this.#context.nameOf(member) !== undefined) this.#context.tellRoomsOf(member, line);
    this.removed.add(member);
    member.send(told);
    member.close("kicked by operator", KICKED);
  }

  /** Bans `entry` here until `until`, closing the members it covers. */
  #banHere(entry: string, until: number): void {
    const { bans, nameOf } = this.#context;
    bans?.add(entry, until);
    for (const member of this.#context.everyone()) {
      if (!this.removed.has(member) && bans?.refuses(member.ip)) {
        this.#remove(member, `* ${nameOf(member)} was banned by the operator`, "* banned by the operator");
      }
    }
  }

  /** Tells every other isolate of a ban made here, and keeps it for servers that start later. */
  #spread(entry: string, until: number): void {
    this.#context.relay?.publish(`ban-address ${entry} ${until}`, "control", EVERYONE);
    this.#context.banStore?.save({ entry, until }).catch(() => {/* the running servers were told */});
  }

  /** Tells every other isolate the bans in force here. */
  #shareBans(): void {
    for (const { entry, until } of this.bans()) {
      this.#context.relay?.publish(`ban-address ${entry} ${until}`, "control", EVERYONE);
    }
  }
}

/** How a moderation goes over the relay, as a control line. */
function controlLine(action: Moderation): string {
  switch (action.kind) {
    case "kick":
      return `kick ${action.reason}`;
    case "mute":
    case "ban":
      return `${action.kind} ${action.minutes}`;
    case "unmute":
      return "unmute";
  }
}
