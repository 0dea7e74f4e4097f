/**
 * The rooms of a chat shared through Redis (`--redis`): one hash holds, for every member of every
 * server, the rooms it is in (field `node|id`, value a JSON list of room names). A server writes a
 * member's field when it moves (every move of a burst of work in one command), writes all of its
 * members' fields again whenever the link comes back or Redis is found to have lost them (see
 * {@linkcode RedisDirectory.restore}), and every {@linkcode REFRESH_MS} in case it lost them
 * unseen, and deletes its fields when it leaves. `/rooms` and `/who` read the whole hash
 * and count only the servers in the chat now (the nodes set, which the names' heartbeat keeps); a
 * server that stopped without a word is reaped with its fields (`REAP`). Topics are one hash, room
 * key -> JSON, which a room keeps under its name.
 *
 * What is read from Redis is not trusted: a room name that is not one, or a topic that is not
 * text, is left out.
 */

import { parseRoom, roomKey } from "../protocol/rooms.ts";
import type { Logger } from "../log.ts";
import { type Directory, mergeRooms, type RoomView, type Topic, viewsOf } from "../rooms/directory.ts";
import type { RedisLink } from "./link.ts";

/** A server writes all its members' rooms at least this often, changed or not. */
export const REFRESH_MS = 15_000;
/** Fields written per command when a server writes all of its members' rooms. */
const CHUNK = 1000;

/** One server's share of the chat's rooms in Redis. */
export class RedisDirectory implements Directory {
  #link: RedisLink;
  #logger: Logger;
  #local: () => RoomView[] = () => [];
  /** Moves not written yet: they go at the end of the burst of work, together. */
  #moves = new Map<number, string[]>();
  #warned = false;
  #closed = false;
  #refresh: ReturnType<typeof setInterval>;

  constructor(link: RedisLink, logger: Logger) {
    this.#link = link;
    this.#logger = logger;
    link.watch((up) => up && this.#writeAll());
    this.#refresh = setInterval(() => this.#writeAll(), REFRESH_MS);
    Deno.unrefTimer(this.#refresh);
  }

  open(local: () => RoomView[]): void {
    this.#local = local;
  }

  /** Writes every member's rooms again: Redis lost them, or dropped them with this server, counted as gone. */
  restore(): void {
    this.#writeAll();
  }

  moved(owner: number, rooms: string[]): void {
    if (this.#moves.size === 0) queueMicrotask(() => this.#flush());
    this.#moves.set(owner, rooms);
  }

  async rooms(): Promise<RoomView[]> {
    const local = this.#local();
    if (!this.#link.up) return mergeRooms(local);
    try {
      const [nodes, all] = await Promise.all([
        this.#link.send<string[]>(["SMEMBERS", this.#link.keys.nodes]),
        this.#link.send<Record<string, string> | string[]>(["HGETALL", this.#link.keys.rooms]),
      ]);
      const live = new Set(nodes.map(String));
      const moves: [number, string[]][] = [];
      for (const [field, json] of fieldsOf(all)) {
        const bar = field.lastIndexOf("|");
        const node = field.slice(0, bar);
        const owner = Number(field.slice(bar + 1));
        // This server's own are known better here, now.
        if (node === this.#link.node || !live.has(node) || !Number.isSafeInteger(owner)) continue;
        moves.push([owner, parseRoomList(json)]);
      }
      return mergeRooms([...local, ...viewsOf(moves)]);
    } catch {
      return mergeRooms(local);
    }
  }

  async topic(room: string): Promise<Topic | undefined> {
    if (!this.#link.up) return undefined;
    try {
      const value = await this.#link.send<string | null>(["HGET", this.#link.keys.topics, roomKey(room)]);
      return value === null ? undefined : parseTopic(String(value));
    } catch {
      return undefined;
    }
  }

  async setTopic(room: string, topic: Topic): Promise<void> {
    try {
      await this.#link.send(["HSET", this.#link.keys.topics, roomKey(room), JSON.stringify(topic)]);
    } catch (error) {
      this.#warn(`cannot set the topic of ${room}: ${error}`);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#refresh);
    const mine = this.#mine(this.#local()).map(([owner]) => this.#field(owner));
    if (!this.#link.up || mine.length === 0) return;
    await this.#link.send(["HDEL", this.#link.keys.rooms, ...mine]).catch(() => {});
  }

  #field(owner: number): string {
    return `${this.#link.node}|${owner}`;
  }

  /** Each member's rooms, from this server's rooms. */
  #mine(views: RoomView[]): [number, string[]][] {
    const moves = new Map<number, string[]>();
    for (const { name, members } of views) {
      for (const owner of members) moves.set(owner, [...moves.get(owner) ?? [], name]);
    }
    return [...moves];
  }

  /** Writes the moves made since the last time. */
  #flush(): void {
    const moves = [...this.#moves];
    this.#moves.clear();
    if (this.#closed || !this.#link.up) return;
    const keys = this.#link.keys;
    const left = moves.filter(([, rooms]) => rooms.length === 0).map(([owner]) => this.#field(owner));
    const set = moves.filter(([, rooms]) => rooms.length > 0)
      .flatMap(([owner, rooms]) => [this.#field(owner), JSON.stringify(rooms)]);
    if (left.length > 0) this.#send(["HDEL", keys.rooms, ...left]);
    if (set.length > 0) this.#send(["HSET", keys.rooms, ...set]);
  }

  /** Writes every member's rooms again. */
  #writeAll(): void {
    if (this.#closed || !this.#link.up) return;
    const fields = this.#mine(this.#local()).flatMap((
      [owner, rooms],
    ) => [this.#field(owner), JSON.stringify(rooms)]);
    for (let i = 0; i < fields.length; i += 2 * CHUNK) {
      this.#send(["HSET", this.#link.keys.rooms, ...fields.slice(i, i + 2 * CHUNK)]);
    }
  }

  #send(command: string[]): void {
    this.#link.send(command).then(
      () => this.#warned = false,
      (error) => this.#warn(`cannot share this server's rooms: ${error}`),
    );
  }

  #warn(message: string): void {
    // Down: the link has said so. Up: Redis refused; say it once.
    if (!this.#link.up || this.#warned) return;
    this.#warned = true;
    this.#logger.warn("redis_error", message, {});
  }
}

/** A hash's fields and values, from `HGETALL`: an object, as the client gives it, or a flat array. */
function fieldsOf(reply: Record<string, string> | string[]): [string, string][] {
  if (!Array.isArray(reply)) return Object.entries(reply).map(([field, value]) => [field, String(value)]);
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([String(reply[i]), String(reply[i + 1])]);
  return pairs;
}

/** The rooms in one member's field, as far as they are rooms. */
export function parseRoomList(json: string): string[] {
  try {
    const value = JSON.parse(json);
    if (!Array.isArray(value)) return [];
    return value.filter((room) => typeof room === "string" && "room" in parseRoom(room));
  } catch {
    return [];
  }
}

/** A topic as stored, if it is one. */
function parseTopic(json: string): Topic | undefined {
  try {
    const { text, by, at } = JSON.parse(json) ?? {};
    if (typeof text === "string" && typeof by === "string" && typeof at === "number") return { text, by, at };
  } catch {
    // Not JSON: not a topic.
  }
  return undefined;
}
