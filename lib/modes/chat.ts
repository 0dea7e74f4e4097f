/**
 * Chat mode: a room where each line is relayed to everyone else as `<NAME> text`.
 *
 * Clients start as `user<ID>`; `/nick NAME` renames, `/who` lists who is here, `/help` says so.
 * Joins, leaves and renames are announced to the others as `* ...` lines. Names are unique without
 * regard to case, so nobody can pass for someone else, and `user<digits>` stays reserved for the
 * names the server gives. A relayed line is built once and copied into each recipient's output
 * buffer; a recipient that stops reading is dropped by its connection, never waited for.
 */

import type { Connection } from "../connection.ts";
import type { Room } from "../room.ts";
import type { Mode } from "./mode.ts";

const SLASH = 0x2f;
const NAME = /^[A-Za-z0-9_-]{1,32}$/;
const RESERVED = /^user\d+$/i;
const HELP = "* commands: /nick NAME (1-32 of A-Z a-z 0-9 - _), /who, /help; any other line goes to everyone";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Member {
  name: string;
  /** `<NAME> ` encoded once, put before every line this member sends. */
  prefix: Uint8Array;
}

/** Creates a chat mode over `room`. */
export function createChatMode(room: Room): Mode {
  const members = new Map<Connection, Member>();
  const owners = new Map<string, Connection>();

  function rename(conn: Connection, name: string): void {
    const old = members.get(conn);
    if (old !== undefined) owners.delete(old.name.toLowerCase());
    members.set(conn, { name, prefix: encoder.encode(`<${name}> `) });
    owners.set(name.toLowerCase(), conn);
  }

  function nick(conn: Connection, member: Member, name: string): void {
    if (!NAME.test(name)) {
      conn.send(`ERR invalid name "${name.slice(0, 40)}": use 1-32 of A-Z a-z 0-9 - _`);
    } else if (RESERVED.test(name) && name.toLowerCase() !== member.name.toLowerCase()) {
      conn.send(`ERR name ${name} is reserved`);
    } else if (owners.has(name.toLowerCase()) && owners.get(name.toLowerCase()) !== conn) {
      conn.send(`ERR name ${name} is taken`);
    } else {
      const old = member.name;
      rename(conn, name);
      conn.send(`* you are now ${name}`);
      room.broadcast(`* ${old} is now ${name}`, conn);
    }
  }

  function command(conn: Connection, member: Member, text: string): void {
    const [verb, ...rest] = text.split(" ");
    const argument = rest.join(" ").trim();
    if (verb === "/nick") nick(conn, member, argument);
    else if (verb === "/who") conn.send(`* online: ${[...members.values()].map((m) => m.name).join(", ")}`);
    else if (verb === "/help") conn.send(HELP);
    else conn.send(`ERR unknown command ${verb.slice(0, 40)}; try /help`);
  }

  return {
    join(conn) {
      rename(conn, `user${conn.id}`);
      conn.send(`* welcome, user${conn.id}: ${members.size} online; /help for commands`);
      room.broadcast(`* user${conn.id} joined`, conn);
    },
    line(conn, line) {
      const member = members.get(conn);
      if (member === undefined) return;
      // "//text" is how a line that starts with a slash is said.
      if (line[0] === SLASH && line[1] !== SLASH) {
        command(conn, member, decoder.decode(line));
        return;
      }
      const text = line[0] === SLASH ? line.subarray(1) : line;
      const relayed = new Uint8Array(member.prefix.length + text.length);
      relayed.set(member.prefix);
      relayed.set(text, member.prefix.length);
      room.broadcast(relayed, conn);
    },
    leave(conn) {
      const member = members.get(conn);
      if (member === undefined) return;
      members.delete(conn);
      owners.delete(member.name.toLowerCase());
      room.broadcast(`* ${member.name} left`);
    },
  };
}
