/**
 * What a mode is: the behaviour behind the accept loop. The server tells a mode when a client
 * joins, sends a line and leaves; the mode answers through `Connection.send` and the room. Modes
 * never touch sockets, so each is a small, synchronous state machine.
 */

import type { Connection } from "../connection.ts";

/** The modes the server can run in. */
export const MODE_NAMES = ["console", "echo", "chat"] as const;

/** One of {@linkcode MODE_NAMES}. */
export type ModeName = typeof MODE_NAMES[number];

/** Behaviour of a server. Every method runs synchronously between socket events. */
export interface Mode {
  /** A client connected and is in the room. */
  join(conn: Connection): void;
  /** A client sent a line; `line` is valid only during the call. */
  line(conn: Connection, line: Uint8Array): void;
  /** A client started closing and has left the room. */
  leave(conn: Connection, reason: string): void;
}
