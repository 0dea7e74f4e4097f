/**
 * The chat's state, as its parts share it: a person (a member welcomed into the chat) and a room
 * with members on this server. `chat.ts` owns both; `chat_sessions.ts` moves people between
 * connections and keeps them while their clients are away.
 */

import type { Replay } from "../replay.ts";
import type { Member } from "./mode.ts";

/** Most rooms one client may be in at once. */
export const MAX_ROOMS_PER_CLIENT = 20;

/** A member welcomed into the chat: its name, `<NAME> ` encoded once, and its rooms. */
export interface Person {
  name: string;
  prefix: Uint8Array;
  /** The rooms it is in, in the order it entered them. */
  rooms: Room[];
  /** Where its plain lines go: the room it entered or switched to last. */
  current: Room | undefined;
  /** Whether it has a session (`/session`): its rooms then keep their lines for its return. */
  inSession?: boolean;
  /** Its session's own id (not its token), through Redis: it marks the lines it says. */
  sid?: string;
  /** On one server, the number that marks the lines it says in its rooms' replay (0: none). */
  author?: number;
}

/** A room with members here, and `#name ` encoded, put before its lines for those in several. */
export interface Room {
  name: string;
  key: string;
  head: Uint8Array;
  members: Map<Member, Person>;
  /** Its numbered lines, for clients that come back (with `resumeWindowMs`, on one server). */
  replay?: Replay;
  /**
   * How many of its members (here, or parked) have a session: its lines are kept only while one
   * does, so that a chat whose clients never ask pays nothing for it.
   */
  sessions: number;
}
