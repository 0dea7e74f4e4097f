/**
 * Chat mode: a room where each line is relayed to everyone else as `<NAME> text`.
 *
 * Clients start as `user<ID>`; `/nick NAME` renames, `/who` lists who is here, `/help` says so.
 * Joins, leaves and renames are announced to the others as `* ...` lines. Names are unique without
 * regard to case, so nobody can pass for someone else, and `user<digits>` stays reserved for the
 * names the server gives. A relayed line is built once and copied into each recipient's output
 * buffer; a recipient that stops reading is dropped by its connection, never waited for.
 *
 * With `--workers`, names live in a table every worker shares, and whatever this worker tells its
 * room also goes to the rooms of the others through the relay.
 */

import type { Connection } from "../connection.ts";
import type { Relay } from "../relay.ts";
import type { Room } from "../room.ts";
import type { SharedTable } from "../shared_table.ts";
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

/** Options for {@linkcode createChatMode}. */
export interface ChatModeOptions {
  /** This worker's clients. */
  room: Room;
  /** Every worker's chat names, each mapped to the id of the connection that holds it. */
  names: SharedTable;
  /** The link to the other workers' rooms, when there are other workers. */
  relay?: Relay;
}

/** Creates a chat mode. */
export function createChatMode(options: ChatModeOptions): Mode {
  const { room, names, relay } = options;
  const members = new Map<Connection, Member>();

  /** Tells everyone in every worker but `except`. */
  function broadcast(line: string | Uint8Array, except?: Connection): void {
    room.broadcast(line, except);
    relay?.publish(line);
  }

  function nick(conn: Connection, member: Member, name: string): void {
    if (!NAME.test(name)) {
      conn.send(`ERR invalid name "${name.slice(0, 40)}": use 1-32 of A-Z a-z 0-9 - _`);
    } else if (RESERVED.test(name) && name.toLowerCase() !== member.name.toLowerCase()) {
      conn.send(`ERR name ${name} is reserved`);
    } else if (!names.claim(name, conn.id)) {
      conn.send(`ERR name ${name} is taken`);
    } else {
      const old = member.name;
      if (old.toLowerCase() !== name.toLowerCase()) names.release(old, conn.id);
      members.set(conn, { name, prefix: encoder.encode(`<${name}> `) });
      conn.send(`* you are now ${name}`);
      broadcast(`* ${old} is now ${name}`, conn);
    }
  }

  /** Everyone in every worker, in the order they joined. */
  function online(): string {
    return names.entries().sort((a, b) => a[1] - b[1]).map(([name]) => name).join(", ");
  }

  function command(conn: Connection, member: Member, text: string): void {
    const [verb, ...rest] = text.split(" ");
    const argument = rest.join(" ").trim();
    if (verb === "/nick") nick(conn, member, argument);
    else if (verb === "/who") conn.send(`* online: ${online()}`);
    else if (verb === "/help") conn.send(HELP);
    else conn.send(`ERR unknown command ${verb.slice(0, 40)}; try /help`);
  }

  return {
    join(conn) {
      const name = `user${conn.id}`;
      // Ids are unique and user<digits> is reserved, so nobody else can hold this name.
      names.claim(name, conn.id);
      members.set(conn, { name, prefix: encoder.encode(`<${name}> `) });
      conn.send(`* welcome, ${name}: ${names.size} online; /help for commands`);
      broadcast(`* ${name} joined`, conn);
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
      broadcast(relayed, conn);
    },
    leave(conn) {
      const member = members.get(conn);
      if (member === undefined) return;
      members.delete(conn);
      names.release(member.name, conn.id);
      broadcast(`* ${member.name} left`);
    },
  };
}
