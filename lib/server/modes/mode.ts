/**
 * What a mode is: the behaviour behind the accept loop. The server tells a mode when a client
 * joins, sends a line and leaves; the mode answers through the members' `send` and the room.
 * Modes never touch sockets, so each is a small state machine that unit tests can drive with fake
 * members.
 *
 * Most of a mode's work is synchronous. A step that has to ask someone else (a name registry
 * shared with other servers) returns a promise, and the connection reads none of that client's
 * next lines until it settles, so every client is still served strictly in order.
 */

import type { CloseReason } from "../close_reason.ts";

/** The modes the server can run in. */
export const MODE_NAMES = ["console", "echo", "chat"] as const;

/** One of {@linkcode MODE_NAMES}. */
export type ModeName = typeof MODE_NAMES[number];

/** What a mode sees of one connected client. */
export interface Member {
  /** Server-wide number of the client, from 1. */
  readonly id: number;
  /** The client's address as people read it: `127.0.0.1:5555`, `[::1]:5555`, `unix`. */
  readonly remote: string;
  /** Its IP address; none for a Unix socket. */
  readonly ip?: string;
  /** Whether its lines are over the rate (`--rate`) now, and wait. */
  readonly overRate?: boolean;
  /** How it connected: `tcp`, `tls`, `unix`, `ws`. */
  readonly transport: string;
  /** When it connected, in milliseconds since the epoch. */
  readonly connectedAt: number;
  /** Lines received from it. */
  readonly linesIn: number;
  /** Lines queued for it. */
  readonly linesOut: number;
  /** Queues one line (without its `\n`) for it; ignored once it is closing. */
  send(line: string | Uint8Array): void;
  /** Starts closing it; `farewell`, if given, is the last line it gets. */
  close(reason: CloseReason, farewell?: string): void;
}

/** The result of a mode's step: nothing, or a promise the connection waits for. */
export type Step = void | Promise<void>;

/** What happens when a client has sent its last line (it half-closed its side). */
export type EndOfInput = "close" | "keep open";

/** Behaviour of a server. */
export interface Mode {
  /**
   * Whose backed-up output stops a client from being read: only its own (`own`: echo, where a
   * client's lines come back to it alone), or anyone's on the server (`shared`: chat, where every line
   * goes to everyone, so overload must slow the talkers, not drop the readers). @default {"own"}
   */
  readonly backPressure?: "own" | "shared";
  /** A client connected and is one of the members. */
  join(member: Member): Step;
  /** A client sent a line; `line` is valid only during the call (copy it to keep it). */
  line(member: Member, line: Uint8Array): Step;
  /**
   * A client will send nothing more. By default the connection closes (after flushing); `keep
   * open` leaves it open for lines to it until someone closes it.
   */
  ended?(member: Member): EndOfInput;
  /** A client started closing and is no longer a member. */
  leave(member: Member, reason: CloseReason): void;
}
