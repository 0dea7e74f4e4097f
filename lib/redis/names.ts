/**
 * The chat names of a room shared by several servers through Redis (`--redis`). Each name is a key
 * set only if free (`SET NX` semantics, in a script) and listed in one hash for `/who`. Every key
 * carries a TTL that this server refreshes, with its own presence key, every
 * {@linkcode HEARTBEAT_MS}. When a server dies, its presence expires, and the first server to see
 * that frees its names and announces that its clients left (a script makes sure only one does),
 * all within {@linkcode GONE_WITHIN_MS}; the names' own TTL frees them even when no server is left
 * to do it.
 *
 * While the link is down, names are claimed here only, and `/who` lists this server's clients.
 * When it is back, every name held here is claimed again: where two servers handed out one name
 * meanwhile, the earlier claim keeps it and the other holder is renamed (see
 * {@linkcode NameEvents.lost}).
 */

import { nameKey, parseName } from "../protocol/names.ts";
import type { Logger } from "../log.ts";
import type { Holder, NameEvents, Names } from "../registry/registry.ts";
import type { Awaitable } from "../util/awaitable.ts";
import { within } from "../util/delay.ts";
import type { RedisLink } from "./link.ts";
import { parseRoomList } from "./directory.ts";
import { CLAIM, HAND_OVER, KEEP, REAP, RELEASE } from "./scripts.ts";

/** How long a server's presence key lives without a refresh. */
export const PRESENCE_TTL_MS = 5000;
/** How often a server refreshes its presence and its names. */
export const HEARTBEAT_MS = 1500;
/** How often each server looks for servers whose presence expired. */
export const SWEEP_MS = 1000;
/**
 * The names of a server that died are freed, and its clients announced as gone, within this:
 * its presence expires, and the next sweep of any other server reaps it.
 */
export const GONE_WITHIN_MS = PRESENCE_TTL_MS + SWEEP_MS;
/**
 * How long a name lives without a refresh: longer than {@linkcode GONE_WITHIN_MS}, so that a
 * dead server's names are reaped (and its clients announced) before anyone else can take them,
 * and only expire by themselves when no server is left to reap them.
 */
export const NAME_TTL_MS = 3 * PRESENCE_TTL_MS;
/**
 * After Redis lost the room's data, no block of ids is handed out for this long: two heartbeats
 * of every live server, each of which raises the counter past that server's ids.
 */
export const FENCE_MS = 2 * HEARTBEAT_MS + 500;
/** Names refreshed per script call. */
const KEEP_CHUNK = 500;

/** A name held here: who holds it, since when, and how it is spelled. */
interface Holding {
  name: string;
  owner: number;
  /**
   * When it was first claimed, in microseconds since the epoch: on a clash after an outage, the
   * earlier claim keeps it, and claims a round trip apart must not tie.
   */
  since: number;
}

/** Chat names held in Redis for the whole room, and here for this server's clients. */
export class RedisNames implements Names {
  #link: RedisLink;
  #logger: Logger;
  /** Names held by this server's clients, by folded name. */
  #held = new Map<string, Holding>();
  /** When each owner first claimed a name (`/who` lists in this order), and how many it holds. */
  #owners = new Map<number, { joined: number; names: number }>();
  /** Names given up while the link was down, still to be given up in Redis. */
  #releasedOffline = new Map<string, number>();
  #events: NameEvents | undefined;
  #timers: ReturnType<typeof setInterval>[] = [];
  #beating: Promise<void> | undefined;
  #warnedMalformed = false;
  #highestId: () => number;
  /** The stamps of this server's tombstone and of the room's epoch last seen: a new one is news. */
  #tombstone = "";
  #epoch: string | undefined;
  #restored = new Set<() => void>();

  /** `highestId` says the highest connection id this server has handed out or holds. */
  constructor(link: RedisLink, logger: Logger, highestId: () => number) {
    this.#link = link;
    this.#logger = logger;
    this.#highestId = highestId;
  }

  /** Enters the room and starts the heartbeat and the sweep for servers that stopped. */
  async start(): Promise<void> {
    await this.#heartbeat();
    this.#timers.push(setInterval(() => void this.#heartbeat(), HEARTBEAT_MS));
    this.#timers.push(setInterval(() => void this.#sweep(), SWEEP_MS));
    this.#link.watch((up) => {
      if (up) void this.#rejoin();
    });
  }

  watch(events: NameEvents): void {
    this.#events = events;
  }

  /**
   * From now on, `listener` hears when this server's share of the chat was gone from Redis and
   * the heartbeat wrote its names and presence again: Redis lost the room's data (flushed, or
   * restarted empty), or the other servers had counted this one as gone. What else it keeps
   * there (its members' rooms) is for the listener to write again.
   */
  whenRestored(listener: () => void): void {
    this.#restored.add(listener);
  }

  claim(name: string, owner: number): Awaitable<boolean> {
    const folded = nameKey(name);
    const previous = this.#held.get(folded);
    if (previous !== undefined && previous.owner !== owner) return false;
    const holding = { name, owner, since: previous?.since ?? microseconds() };
    this.#hold(folded, holding);
    // While the link is down the name is this server's alone; it is claimed when the link is back.
    if (!this.#link.up) return true;
    const keys = [this.#link.keys.name(folded), this.#link.keys.online];
    // A Redis that does not answer within CLAIM_WITHIN_MS may be stalling: the claim is decided
    // here as during an outage, and a late answer that it lost is a name lost, as at heal time.
    let decided = false;
    const claimed = this.#link.run<number>(CLAIM, keys, [
      ...this.#value(holding),
      String(NAME_TTL_MS),
      folded,
    ])
      .then(
        (won) => {
          if (won === 1) return true;
          if (!decided) {
            this.#unhold(folded, holding, previous);
          } else if (this.#held.get(folded) === holding) {
            this.#unhold(folded, holding, undefined);
            this.#events?.lost(holding.name, holding.owner);
          }
          return false;
        },
        (error) => {
          if (!this.#link.up || decided) return true;
          this.#logger.warn("redis_error", `cannot claim a name in Redis: ${error}`, {
            error: String(error),
          });
          this.#unhold(folded, holding, previous);
          return false;
        },
      );
    return within(claimed, CLAIM_WITHIN_MS, () => {
      decided = true;
      return true;
    });
  }

  async takeOver(name: string, owner: number, from: string): Promise<"kept" | "free" | "taken"> {
    const folded = nameKey(name);
    const keys = [this.#link.keys.name(folded), this.#link.keys.online];
    const [answer, since, joined] = await this.#link.run<[string, string, string]>(HAND_OVER, keys, [
      `${from}|`,
      this.#link.node,
      String(owner),
      name,
      String(NAME_TTL_MS),
      folded,
      String(microseconds()),
      String(this.#owners.get(owner)?.joined ?? microseconds()),
    ]);
    if (answer === "taken") return "taken";
    const previous = this.#held.get(folded);
    if (previous !== undefined) this.#unhold(folded, previous, undefined);
    this.#hold(folded, { name, owner, since: Number(since) || microseconds() });
    // `/who` keeps listing it where it was: the heartbeat writes this order back.
    const first = Number(joined);
    const entry = this.#owners.get(owner);
    if (entry !== undefined && Number.isSafeInteger(first) && first > 0) {
      entry.joined = Math.min(entry.joined, first);
    }
    return answer === "kept" ? "kept" : "free";
  }

  release(name: string, owner: number): Awaitable<void> {
    const folded = nameKey(name);
    if (this.#held.get(folded)?.owner !== owner) return;
    this.#unhold(folded, this.#held.get(folded)!, undefined);
    if (!this.#link.up) return void this.#releasedOffline.set(folded, owner);
    return this.#releaseInRedis(folded, owner);
  }

  list(): Awaitable<Holder[]> {
    if (!this.#link.up) return this.#localList();
    const all = this.#link.send<string[]>(["HVALS", this.#link.keys.online]).then((values) =>
      this.#wellFormed(values)
        .sort((a, b) => a.joined - b.joined || a.owner - b.owner)
        .map(({ name, owner }) => ({ name, owner }))
    );
    return within(all, READ_WITHIN_MS, () => this.#localList());
  }

  holder(name: string): Awaitable<number | undefined> {
    const folded = nameKey(name);
    const here = this.#held.get(folded)?.owner;
    if (here !== undefined || !this.#link.up) return here;
    const found = this.#link.send<string | null>(["HGET", this.#link.keys.online, folded]).then((value) =>
      value === null ? undefined : this.#wellFormed([value])[0]?.owner
    );
    return within(found, READ_WITHIN_MS, () => undefined);
  }

  count(): Awaitable<number> {
    if (!this.#link.up) return this.#held.size;
    return within(
      this.#link.send<number>(["HLEN", this.#link.keys.online]),
      READ_WITHIN_MS,
      () => this.#held.size,
    );
  }

  /**
   * Leaves the room: this server's names are given up at once, and the others are told (through
   * {@linkcode NameEvents.departed}) that these clients left, as they were closed at shutdown.
   */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    await this.#beating;
    if (!this.#link.up) return;
    const keys = this.#link.keys;
    const [gone, rooms] = await this.#link.run<[string[], string[]]>(
      REAP,
      [keys.presence(this.#link.node), keys.nodes, keys.online, keys.tombstone(this.#link.node), keys.rooms],
      [this.#link.node, keys.namePrefix, "leave"],
    ).catch((): [string[], string[]] => [[], []]);
    this.#departed(gone, rooms);
  }

  /**
   * Tells who left with a server that is gone (its `online` entries), each with the rooms it was
   * in (its members' rooms, `owner, JSON, ...`) where they are known; returns how many.
   */
  #departed(gone: string[], rooms: string[]): number {
    const entries = this.#wellFormed(gone);
    if (entries.length === 0) return 0;
    const roomsOf = new Map<number, string[]>();
    for (let i = 0; i + 1 < rooms.length; i += 2) {
      const owner = Number(rooms[i]);
      if (Number.isSafeInteger(owner)) roomsOf.set(owner, parseRoomList(String(rooms[i + 1])));
    }
    const where = new Map<string, string[]>();
    for (const { name, owner } of entries) {
      const list = roomsOf.get(owner);
      if (list !== undefined) where.set(name, list);
    }
    this.#events?.departed(entries.map((entry) => entry.name), where);
    return entries.length;
  }

  #hold(folded: string, holding: Holding): void {
    const previous = this.#held.get(folded);
    this.#held.set(folded, holding);
    if (previous !== undefined) return;
    const owner = this.#owners.get(holding.owner);
    if (owner === undefined) this.#owners.set(holding.owner, { joined: holding.since, names: 1 });
    else owner.names++;
  }

  /** Takes back a claim: `previous` is what was held before it, if anything. */
  #unhold(folded: string, holding: Holding, previous: Holding | undefined): void {
    if (this.#held.get(folded) !== holding) return;
    if (previous !== undefined) return void this.#held.set(folded, previous);
    this.#held.delete(folded);
    const owner = this.#owners.get(holding.owner)!;
    if (--owner.names === 0) this.#owners.delete(holding.owner);
  }

  /** `node, owner, since, joined, Name`: the fields of a name's value in Redis. */
  /** The {@linkcode entries} among `values` read from Redis; the first malformed one is logged. */
  #wellFormed(values: string[]): { owner: number; joined: number; name: string }[] {
    const good = entries(values);
    if (good.length < values.length && !this.#warnedMalformed) {
      this.#warnedMalformed = true;
      const bad = values.find((value) => entries([value]).length === 0) ?? "";
      this.#logger.warn(
        "redis_malformed",
        `skipped an entry in Redis that no server wrote: ${JSON.stringify(bad.slice(0, 80))} (said once)`,
        { entry: bad.slice(0, 80) },
      );
    }
    return good;
  }

  #value(holding: Holding): string[] {
    const joined = this.#owners.get(holding.owner)?.joined ?? holding.since;
    return [this.#link.node, String(holding.owner), String(holding.since), String(joined), holding.name];
  }

  #localList(): Holder[] {
    return [...this.#held.values()]
      .sort((a, b) =>
        this.#owners.get(a.owner)!.joined - this.#owners.get(b.owner)!.joined || a.owner - b.owner
      )
      .map(({ name, owner }) => ({ name, owner }));
  }

  #releaseInRedis(folded: string, owner: number): Promise<void> {
    const keys = [this.#link.keys.name(folded), this.#link.keys.online];
    return this.#link.run(RELEASE, keys, [this.#link.node, String(owner), folded]).then(
      () => {},
      () => {
        // Unreachable now: given up when the link is back, or by expiry.
        this.#releasedOffline.set(folded, owner);
      },
    );
  }

  /** The link is back: give up what was released meanwhile, and claim again what is held. */
  async #rejoin(): Promise<void> {
    const released = [...this.#releasedOffline];
    this.#releasedOffline.clear();
    await Promise.all(released.map(([folded, owner]) => this.#releaseInRedis(folded, owner)));
    await this.#heartbeat();
  }

  /** Refreshes presence and names; reports names lost to earlier claims and a return. */
  #heartbeat(): Promise<void> {
    if (this.#beating !== undefined || !this.#link.up) return this.#beating ?? Promise.resolve();
    const beat = async () => {
      const held = [...this.#held];
      let gone = false;
      let wiped = false;
      const lost: [string, Holding][] = [];
      for (let start = 0; start === 0 || start < held.length; start += KEEP_CHUNK) {
        const chunk = held.slice(start, start + KEEP_CHUNK);
        const keys = this.#link.keys;
        const reply = await this.#link.run<(string | number)[]>(
          KEEP,
          [
            keys.presence(this.#link.node),
            keys.nodes,
            keys.online,
            keys.tombstone(this.#link.node),
            keys.epoch,
            keys.fence,
            keys.ids,
            ...chunk.map(([folded]) => keys.name(folded)),
          ],
          [
            this.#link.node,
            String(PRESENCE_TTL_MS),
            String(NAME_TTL_MS),
            String(this.#highestId()),
            String(FENCE_MS),
            ...chunk.map(([, holding]) => this.#value(holding).join("|")),
            ...chunk.map(([folded]) => folded),
          ],
        );
        const [tombstone, epoch] = [String(reply[0]), String(reply[1])];
        if (tombstone !== "" && tombstone !== this.#tombstone) {
          this.#tombstone = tombstone;
          gone = true;
        }
        if (epoch !== this.#epoch) {
          wiped = this.#epoch !== undefined;
          this.#epoch = epoch;
        }
        for (const index of reply.slice(2)) lost.push(chunk[Number(index)]);
      }
      if (wiped) {
        this.#logger.warn(
          "redis_restored",
          "Redis lost the room's data (flushed or restarted empty); restored this server's names, presence, ids and rooms",
          { redis: this.#link.shown },
        );
      }
      if (gone || wiped) { for (const listener of this.#restored) listener(); }
      for (const [folded, holding] of lost) {
        if (this.#held.get(folded) !== holding) continue;
        this.#unhold(folded, holding, undefined);
        this.#events?.lost(holding.name, holding.owner);
      }
      if (gone && this.#held.size > 0) this.#events?.returned(this.#localList().map(({ name }) => name));
    };
    this.#beating = beat().catch((error) => {
      if (this.#link.up) {
        this.#logger.warn("redis_error", `heartbeat failed: ${error}`, { error: String(error) });
      }
    }).finally(() => this.#beating = undefined);
    return this.#beating;
  }

  /** Looks for servers whose presence expired, and announces that their clients left. */
  async #sweep(): Promise<void> {
    if (!this.#link.up) return;
    const keys = this.#link.keys;
    try {
      const nodes = (await this.#link.send<string[]>(["SMEMBERS", keys.nodes])).filter((n) =>
        n !== this.#link.node
      );
      const alive = await Promise.all(
        nodes.map((node) => this.#link.send<number>(["EXISTS", keys.presence(node)])),
      );
      for (const [i, node] of nodes.entries()) {
        if (alive[i] === 1) continue;
        const [gone, rooms] = await this.#link.run<[string[], string[]]>(
          REAP,
          [keys.presence(node), keys.nodes, keys.online, keys.tombstone(node), keys.rooms],
          [node, keys.namePrefix, "reap"],
        );
        const names = this.#departed(gone, rooms);
        if (names > 0) {
          this.#logger.info(
            "redis_reaped",
            `a server left the chat without saying so; ${names} names freed`,
            {
              node,
              names,
            },
          );
        }
      }
    } catch (error) {
      if (this.#link.up) this.#logger.warn("redis_error", `sweep failed: ${error}`, { error: String(error) });
    }
  }
}

/**
 * The online entries (`node|owner|since|joined|Name`) among `values` read from Redis that are as a
 * server writes them. Whoever else can write to Redis is not trusted, and a name reaches every
 * `/who` and every leave notice: an entry whose name is not a name a client could take (in NFC),
 * or whose numbers are not numbers, is left out.
 */
function entries(values: string[]): { owner: number; joined: number; name: string }[] {
  return values.flatMap((value) => {
    const fields = value.split("|");
    if (fields.length !== 5 || !fields.slice(1, 4).every((field) => /^\d{1,16}$/.test(field))) return [];
    const parsed = parseName(fields[4]);
    if (!("name" in parsed) || parsed.name !== fields[4]) return [];
    return [{ owner: Number(fields[1]), joined: Number(fields[3]), name: fields[4] }];
  });
}

/** How long `/nick` waits for Redis before it decides the claim here. */
export const CLAIM_WITHIN_MS = 1000;
/** How long `/who` and a welcome's count wait for Redis before they answer from what is here. */
export const READ_WITHIN_MS = 500;

/** The time now, in whole microseconds since the epoch. */
function microseconds(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
