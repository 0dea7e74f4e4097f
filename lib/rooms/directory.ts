/**
 * The directory seam: which rooms there are, who is in each, and their topics, across every
 * isolate and server of one chat. Each chat mode knows its own members' rooms exactly; the
 * directory shares each member's move with the others (soon, not in the same step: a round trip)
 * and answers `/rooms`, `/who #room` and `/topic` from the merged views. Members are connection
 * ids, which the registry maps to names, so a rename changes nothing here. One process needs no sharing
 * ({@linkcode MemoryDirectory}, here: the chat mode's default); the workers of one server share over a BroadcastChannel
 * (`broadcast_channel.ts`); servers share through Redis (`redis/directory.ts`).
 *
 * A room exists while someone is in it. A topic stays with the room's name (as a Redis key would),
 * so a room opened again under its old name finds its old topic.
 */

import { roomKey } from "../protocol/rooms.ts";
import type { Awaitable } from "../util/awaitable.ts";

/** A room's topic: what, who set it and when (milliseconds since the epoch). */
export interface Topic {
  text: string;
  by: string;
  at: number;
}

/** One room as one isolate, or the whole chat, sees it. */
export interface RoomView {
  /** The room's name, with its `#`. */
  name: string;
  /** Its members' connection ids (unique across the chat, and kept through a rename). */
  members: number[];
}

/** Rooms, members and topics across the chat. */
export interface Directory {
  /** From now on, `local` says this isolate's rooms whenever the directory asks. */
  open(local: () => RoomView[]): void;
  /** Member `owner`, served here, is in `rooms` now (none once it left): the others hear it soon. */
  moved(owner: number, rooms: string[]): void;
  /** Every room in the chat with its members, merged from every isolate's view. */
  rooms(): Awaitable<RoomView[]>;
  /** The topic of `room`, if it has one. */
  topic(room: string): Awaitable<Topic | undefined>;
  /** Sets the topic of `room` for everyone. */
  setTopic(room: string, topic: Topic): Awaitable<void>;
  /** Stops sharing: the others forget this isolate's rooms. */
  close(): Awaitable<void>;
}

/** The rooms in `views` joined by room (under their keys), with their members, by name. */
export function mergeRooms(views: Iterable<RoomView>): RoomView[] {
  const merged = new Map<string, RoomView>();
  for (const view of views) {
    const key = roomKey(view.name);
    const room = merged.get(key);
    if (room === undefined) merged.set(key, { name: view.name, members: [...view.members] });
    else room.members.push(...view.members);
  }
  return [...merged.values()].filter((room) => room.members.length > 0)
    .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** The rooms of each member in `moves` (id -> its rooms), as views of the rooms. */
export function viewsOf(moves: Iterable<[number, string[]]>): RoomView[] {
  const views: RoomView[] = [];
  for (const [owner, rooms] of moves) for (const name of rooms) views.push({ name, members: [owner] });
  return views;
}

/** The most topics a directory keeps; past it, the oldest set is forgotten. */
export const MAX_TOPICS = 10000;

/** Topics in memory, by room key, oldest set first. */
export class TopicStore {
  #topics = new Map<string, Topic>();

  get(room: string): Topic | undefined {
    return this.#topics.get(roomKey(room));
  }

  /** Keeps `topic` for `room` unless a newer one is kept. */
  set(room: string, topic: Topic): void {
    const key = roomKey(room);
    const kept = this.#topics.get(key);
    if (kept !== undefined && kept.at > topic.at) return;
    this.#topics.delete(key);
    this.#topics.set(key, topic);
    if (this.#topics.size > MAX_TOPICS) this.#topics.delete(this.#topics.keys().next().value!);
  }

  /** Every topic, by room key. */
  entries(): [string, Topic][] {
    return [...this.#topics];
  }
}

/** Rooms and topics of a server that runs in one isolate. */
export class MemoryDirectory implements Directory {
  #local: () => RoomView[] = () => [];
  #topics = new TopicStore();

  open(local: () => RoomView[]): void {
    this.#local = local;
  }

  moved(): void {}

  rooms(): RoomView[] {
    return mergeRooms(this.#local());
  }

  topic(room: string): Topic | undefined {
    return this.#topics.get(room);
  }

  setTopic(room: string, topic: Topic): void {
    this.#topics.set(room, topic);
  }

  close(): void {}
}
