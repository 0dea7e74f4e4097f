/**
 * Chat mode: a room where each line is relayed to everyone else as `<NAME> text`.
 *
 * Clients start as `user<ID>`; `/nick NAME` renames, `/who` lists who is here, `/help` says so.
 * Joins, leaves and renames are announced to the others as `* ...` lines. Names are unique without
 * regard to case, so nobody can pass for someone else, and `user<digits>` stays reserved for the
 * names the server gives. A relayed line is built once and copied into each recipient's output
 * queue; a recipient that stops reading is dropped by its connection, never waited for.
 *
 * Nothing a client sends can drive another client's terminal: every relayed line, and every name
 * or command echoed back in an `ERR`, has its control characters, C1, DEL and bidi overrides
 * escaped, for `nc` users as much as for Parley's own client.
 *
 * Names live in the registry and lines also go to the relay, so the same mode serves one process,
 * the workers of one server, or a room spread over several machines: what differs is only which
 * registry and which relay it is given.
 */

import { escapeControl, escapeLine } from "../../protocol/escape.ts";
import type { Names } from "../../registry/registry.ts";
import type { Relay } from "../../relay/relay.ts";
import { andThen } from "../../util/awaitable.ts";
import type { Room } from "../room.ts";
import type { Member, Mode, Step } from "./mode.ts";

const SLASH = 0x2f;
const NAME = /^[A-Za-z0-9_-]{1,32}$/;
const RESERVED = /^user\d+$/i;
/** What `/help` says. */
export const CHAT_HELP = "* commands: /nick NAME (1-32 of A-Z a-z 0-9 - _), /who, /help; " +
  "any other line goes to everyone (//text for a line that starts with /)";

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

/** Options for {@linkcode createChatMode}. */
export interface ChatModeOptions {
  /** This server's clients. */
  room: Room;
  /** Chat names, shared with every room that the relay links. */
  names: Names;
  /** The link to rooms served elsewhere (other workers, other servers), if any. */
  relay?: Relay;
}

/** Creates a chat mode. */
export function createChatMode(options: ChatModeOptions): Mode {
  const { room, names, relay } = options;
  const speakers = new Map<Member, Speaker>();
  /** Members whose join is still waiting for the registry. */
  const joining = new Set<Member>();
  relay?.open((line) => room.broadcast(line));

  /** Tells everyone, here and elsewhere, but `except`. */
  function broadcast(line: string | Uint8Array, except?: Member): void {
    room.broadcast(line, except);
    relay?.publish(line);
  }

  function nick(member: Member, current: Speaker, name: string): Step {
    if (!NAME.test(name)) {
      member.send(`ERR invalid name "${escapeControl(name.slice(0, 40))}": use 1-32 of A-Z a-z 0-9 - _`);
    } else if (RESERVED.test(name) && name.toLowerCase() !== current.name.toLowerCase()) {
      member.send(`ERR name ${name} is reserved`);
    } else {
      return andThen(names.claim(name, member.id), (won) => {
        if (!speakers.has(member)) {
          // It left while the registry answered: the name must not outlive it.
          if (won) void names.release(name, member.id);
          return;
        }
        if (!won) return member.send(`ERR name ${name} is taken`);
        const old = current.name;
        if (old.toLowerCase() !== name.toLowerCase()) void names.release(old, member.id);
        speakers.set(member, speaker(name));
        member.send(`* you are now ${name}`);
        broadcast(`* ${old} is now ${name}`, member);
      });
    }
  }

  function command(member: Member, current: Speaker, text: string): Step {
    const [verb, ...rest] = text.split(" ");
    const argument = rest.join(" ").trim();
    if (verb === "/nick") return nick(member, current, argument);
    if (verb === "/who") return andThen(names.list(), (list) => member.send(`* online: ${list.join(", ")}`));
    if (verb === "/help") member.send(CHAT_HELP);
    else member.send(`ERR unknown command ${escapeControl(verb.slice(0, 40))}; try /help`);
  }

  return {
    backPressure: "room",
    join(member) {
      const name = `user${member.id}`;
      // Ids are unique and user<digits> is reserved, so nobody else can hold this name.
      joining.add(member);
      return andThen(names.claim(name, member.id), () =>
        andThen(names.count(), (online) => {
          // Gone while the registry answered: leave() has given the name back.
          if (!joining.delete(member)) return;
          speakers.set(member, speaker(name));
          member.send(`* welcome, ${name}: ${online} online; /help for commands`);
          broadcast(`* ${name} joined`, member);
        }));
    },
    line(member, line) {
      const current = speakers.get(member);
      if (current === undefined) return;
      // "//text" is how a line that starts with a slash is said.
      if (line[0] === SLASH && line[1] !== SLASH) return command(member, current, decoder.decode(line));
      const text = escapeLine(line[0] === SLASH ? line.subarray(1) : line);
      const relayed = new Uint8Array(current.prefix.length + text.length);
      relayed.set(current.prefix);
      relayed.set(text, current.prefix.length);
      broadcast(relayed, member);
    },
    leave(member) {
      if (joining.delete(member)) return void names.release(`user${member.id}`, member.id);
      const current = speakers.get(member);
      if (current === undefined) return;
      speakers.delete(member);
      void names.release(current.name, member.id);
      broadcast(`* ${current.name} left`);
    },
  };
}
