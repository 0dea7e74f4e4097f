/**
 * The set of live connections, by id: what the accept loop registers clients in, and what the
 * modes look clients up in and broadcast to. A connection leaves the room the moment it starts
 * closing, so nobody addresses a client that is on its way out.
 */

import type { Connection } from "./connection.ts";

/** Live connections by id. */
export class Room {
  #members = new Map<number, Connection>();

  /** Number of live connections. */
  get size(): number {
    return this.#members.size;
  }

  add(conn: Connection): void {
    this.#members.set(conn.id, conn);
  }

  delete(conn: Connection): void {
    this.#members.delete(conn.id);
  }

  get(id: number): Connection | undefined {
    return this.#members.get(id);
  }

  /** Live connections in the order they joined. */
  [Symbol.iterator](): IterableIterator<Connection> {
    return this.#members.values();
  }

  /** Queues `line` for every live connection but `except`. */
  broadcast(line: string | Uint8Array, except?: Connection): void {
    for (const conn of this.#members.values()) {
      if (conn !== except) conn.send(line);
    }
  }
}
