/**
 * The registry of a chat room shared by several servers through Redis (`--redis`). Admission
 * limits stay with the server (its own `MemoryRegistry`, or its workers' `SharedRegistry`); what
 * the room shares is:
 *
 * - **Connection ids**, in blocks of {@linkcode ID_BLOCK} taken from one counter, so that
 *   `user<ID>` names never clash across servers and taking an id never waits for Redis.
 * - **Names**, each a key set only if free (`SET NX` semantics, in a script) and listed in one
 *   hash for `/who`. Every key carries a TTL that this server refreshes, with its own presence
 *   key, every {@linkcode HEARTBEAT_MS}. When a server dies, its presence expires, and the first
 *   server to see that frees its names and announces that its clients left (a script makes sure
 *   only one does), all within {@linkcode GONE_WITHIN_MS}; the names' own TTL frees them even
 *   when no server is left to do it.
 *
 * While the link is down, names are claimed here only, and `/who` lists this server's clients.
 * When it is back, every name held here is claimed again: where two servers handed out one name
 * meanwhile, the earlier claim keeps it and the other holder is renamed (see
 * {@linkcode NameEvents.lost}).
 */

import { nameKey, parseName } from "../protocol/names.ts";
import type { RedisLink } from "./link.ts";
import type { Logger } from "../log.ts";
import type { Awaitable } from "../util/awaitable.ts";
import { delay, within } from "../util/delay.ts";
import type { NameEvents, Names, Refusal, Registry } from "../registry/registry.ts";

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
/** Ids are taken from the room's counter this many at a time. */
export const ID_BLOCK = 1000;
/**
 * After Redis lost the room's data, no block of ids is handed out for this long: two heartbeats
 * of every live server, each of which raises the counter past that server's ids.
 */
export const FENCE_MS = 2 * HEARTBEAT_MS + 500;
/** Names refreshed per script call. */
const KEEP_CHUNK = 500;

/**
 * Claims KEYS[1] (a name) for ARGV = node, owner, since, joined, Name, ttl, folded, unless someone
 * else holds it; lists it in KEYS[2] (the online hash). Returns 1 when claimed.
 */
const CLAIM = `
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, #ARGV[1] + #ARGV[2] + 2) ~= ARGV[1] .. '|' .. ARGV[2] .. '|' then
  return 0
end
local value = ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[3] .. '|' .. ARGV[4] .. '|' .. ARGV[5]
redis.call('SET', KEYS[1], value, 'PX', ARGV[6])
redis.call('HSET', KEYS[2], ARGV[7], value)
return 1`;

/** Gives KEYS[1] (a name) up, and its entry ARGV[3] in KEYS[2], if ARGV = node, owner holds it. */
const RELEASE = `
local mine = ARGV[1] .. '|' .. ARGV[2] .. '|'
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, #mine) == mine then redis.call('DEL', KEYS[1]) end
local listed = redis.call('HGET', KEYS[2], ARGV[3])
if listed and string.sub(listed, 1, #mine) == mine then redis.call('HDEL', KEYS[2], ARGV[3]) end
return 1`;

/**
 * The heartbeat: refreshes this node's presence (KEYS[1], for ARGV[2] ms) and membership of
 * KEYS[2], then each name KEYS[8..] it holds (for ARGV[3] ms), whose value is ARGV[5..] (and
 * folded name ARGV[5 + n..]). A name that expired is set again; one that someone else holds goes
 * to the earlier claim (the lower node id, on a tie).
 *
 * It also keeps the room's data honest after Redis lost it (FLUSHALL, a restart from an empty
 * dump, an eviction) without the link dropping: the id counter KEYS[7] is raised to at least this
 * node's highest id ARGV[4], every time; and when the room's epoch key KEYS[5] is gone, it is set
 * again with a fence KEYS[6] (for {@linkcode FENCE_MS}) during which no block of ids is handed out
 * ({@linkcode TAKE_BLOCK}), so that every live server has raised the counter first.
 *
 * Returns: 1 if the node had been reaped as gone (its tombstone KEYS[4] was there), else 0; 1 if
 * the room's data had been lost, else 0; then the 0-based indexes of the names lost.
 */
const KEEP = `
local function fields(value) return string.match(value, '^([^|]*)|([^|]*)|([^|]*)|') end
local fixed = 7
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
local reply = {redis.call('DEL', KEYS[4]), 0}
if redis.call('EXISTS', KEYS[5]) == 0 then
  redis.call('SET', KEYS[5], '1')
  redis.call('SET', KEYS[6], '1', 'PX', ${FENCE_MS})
  reply[2] = 1
end
local counter = tonumber(redis.call('GET', KEYS[7]) or '0')
if counter < tonumber(ARGV[4]) then redis.call('SET', KEYS[7], ARGV[4]) end
local n = #KEYS - fixed
for i = 1, n do
  local value = ARGV[4 + i]
  local held = redis.call('GET', KEYS[fixed + i])
  local take = not held
  if held then
    local node, owner, since = fields(held)
    local my_node, my_owner, my_since = fields(value)
    take = (node == my_node and owner == my_owner) or tonumber(my_since) < tonumber(since)
      or (tonumber(my_since) == tonumber(since) and my_node < node)
  end
  if take then
    redis.call('SET', KEYS[fixed + i], value, 'PX', ARGV[3])
    redis.call('HSET', KEYS[3], ARGV[4 + n + i], value)
  else
    reply[#reply + 1] = i - 1
  end
end
return reply`;

/**
 * Removes node ARGV[1] from the room (KEYS[2]) with every name it held (in KEYS[3], and the keys
 * ARGV[2] .. folded), if its presence KEYS[1] is gone; "leave" as ARGV[3] is the node leaving
 * by itself. A reaped node gets a tombstone, KEYS[4], to learn it was counted as gone. Returns
 * the online entries (node|owner|since|joined|Name) it removed; only the first caller gets them.
 */
const REAP = `
local leaving = ARGV[3] == 'leave'
if leaving then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[1])
elseif redis.call('EXISTS', KEYS[1]) == 1 or redis.call('SREM', KEYS[2], ARGV[1]) == 0 then
  return {}
else
  redis.call('SET', KEYS[4], '1', 'PX', 3600000)
end
local mine = ARGV[1] .. '|'
local gone = {}
local all = redis.call('HGETALL', KEYS[3])
for i = 1, #all, 2 do
  local value = all[i + 1]
  if string.sub(value, 1, #mine) == mine then
    redis.call('HDEL', KEYS[3], all[i])
    local key = ARGV[2] .. all[i]
    local held = redis.call('GET', key)
    if held and string.sub(held, 1, #mine) == mine then redis.call('DEL', key) end
    gone[#gone + 1] = value
  end
end
return gone`;

/**
 * Takes a block of ARGV[1] ids from the counter KEYS[1]: returns its highest id, or -1 while the
 * fence KEYS[2] stands (see {@linkcode KEEP}). Marks the room as known (its epoch KEYS[3]).
 */
const TAKE_BLOCK = `
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
redis.call('SET', KEYS[3], '1', 'NX')
return redis.call('INCRBY', KEYS[1], ARGV[1])`;

/** Raises the id counter KEYS[1] to at least ARGV[1] (after Redis lost its data). */
const RAISE = `
local now = tonumber(redis.call('GET', KEYS[1]) or '0')
if now < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`;

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
    const claimed = this.#link.script<number>(CLAIM, keys, [
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

  release(name: string, owner: number): Awaitable<void> {
    const folded = nameKey(name);
    if (this.#held.get(folded)?.owner !== owner) return;
    this.#unhold(folded, this.#held.get(folded)!, undefined);
    if (!this.#link.up) return void this.#releasedOffline.set(folded, owner);
    return this.#releaseInRedis(folded, owner);
  }

  list(): Awaitable<string[]> {
    if (!this.#link.up) return this.#localList();
    const all = this.#link.send<string[]>(["HVALS", this.#link.keys.online]).then((values) =>
      this.#wellFormed(values)
        .sort((a, b) => a.joined - b.joined || a.owner - b.owner)
        .map((entry) => entry.name)
    );
    return within(all, READ_WITHIN_MS, () => this.#localList());
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
    const gone = await this.#link.script<string[]>(
      REAP,
      [keys.presence(this.#link.node), keys.nodes, keys.online, keys.tombstone(this.#link.node)],
      [this.#link.node, keys.namePrefix, "leave"],
    ).catch(() => []);
    const names = this.#wellFormed(gone).map((entry) => entry.name);
    if (names.length > 0) this.#events?.departed(names);
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

  #localList(): string[] {
    return [...this.#held.values()]
      .sort((a, b) =>
        this.#owners.get(a.owner)!.joined - this.#owners.get(b.owner)!.joined || a.owner - b.owner
      )
      .map((holding) => holding.name);
  }

  #releaseInRedis(folded: string, owner: number): Promise<void> {
    const keys = [this.#link.keys.name(folded), this.#link.keys.online];
    return this.#link.script(RELEASE, keys, [this.#link.node, String(owner), folded]).then(
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
      const lost: [string, Holding][] = [];
      for (let start = 0; start === 0 || start < held.length; start += KEEP_CHUNK) {
        const chunk = held.slice(start, start + KEEP_CHUNK);
        const keys = this.#link.keys;
        const reply = await this.#link.script<number[]>(
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
            ...chunk.map(([, holding]) => this.#value(holding).join("|")),
            ...chunk.map(([folded]) => folded),
          ],
        );
        gone ||= reply[0] === 1;
        if (reply[1] === 1) {
          this.#logger.warn(
            "redis_restored",
            "Redis lost the room's data (flushed or restarted empty); restored this server's names, presence and ids",
            { redis: this.#link.shown },
          );
        }
        for (const index of reply.slice(2)) lost.push(chunk[index]);
      }
      for (const [folded, holding] of lost) {
        if (this.#held.get(folded) !== holding) continue;
        this.#unhold(folded, holding, undefined);
        this.#events?.lost(holding.name, holding.owner);
      }
      if (gone && this.#held.size > 0) this.#events?.returned(this.#localList());
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
        const gone = await this.#link.script<string[]>(
          REAP,
          [keys.presence(node), keys.nodes, keys.online, keys.tombstone(node)],
          [node, keys.namePrefix, "reap"],
        );
        const names = this.#wellFormed(gone).map((entry) => entry.name);
        if (names.length > 0) {
          this.#logger.info(
            "redis_reaped",
            `a server left the room without saying so; ${names.length} names freed`,
            {
              node,
              names: names.length,
            },
          );
          this.#events?.departed(names);
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

/** Connection ids in blocks from the room's counter: never the same twice in the room. */
export class IdBlocks {
  #link: RedisLink;
  #logger: Logger;
  #next = 0;
  #end = 0;
  #spare: [number, number] | undefined;
  #fetching: Promise<void> | undefined;
  /** The highest id handed out or held in reserve. */
  #highest = 0;
  #warned = false;

  constructor(link: RedisLink, logger: Logger) {
    this.#link = link;
    this.#logger = logger;
  }

  /** Takes the first block, and keeps the counter ahead of what was handed out after Redis restarts. */
  async start(): Promise<void> {
    // A room whose data Redis lost moments ago is fenced until the servers in it raised the counter.
    while (this.#spare === undefined) {
      await this.#fetch();
      if (this.#spare === undefined) await delay(HEARTBEAT_MS / 3);
    }
    [this.#next, this.#end] = this.#spare!;
    this.#spare = undefined;
    this.#link.watch((up) => {
      if (!up) return;
      // Redis may have restarted without its data: raise the counter past our ids, take a new block.
      this.#link.script(RAISE, [this.#link.keys.ids], [String(this.#highest)])
        .then(() => {
          this.#spare = undefined;
          return this.#fetch();
        })
        .catch(() => {/* down again; the next time it is back does the same */});
    });
  }

  next(): number {
    if (this.#next > this.#end) {
      if (this.#spare !== undefined) {
        [this.#next, this.#end] = this.#spare;
        this.#spare = undefined;
      } else if (!this.#warned) {
        this.#warned = true;
        this.#logger.warn(
          "redis_ids",
          "ran out of connection ids from Redis; ids may repeat across servers",
          {},
        );
      }
    }
    if (this.#spare === undefined && this.#end - this.#next < ID_BLOCK / 2 && this.#link.up) {
      void this.#fetch().catch(() => {/* down: taken when the link is back */});
    }
    const id = this.#next++;
    this.#highest = Math.max(this.#highest, id);
    return id;
  }

  /** The highest id handed out or held in reserve. */
  get highest(): number {
    return this.#highest;
  }

  /** Takes the next block, unless the fence stands (then the next id taken asks again). */
  #fetch(): Promise<void> {
    const keys = this.#link.keys;
    return this.#fetching ??= this.#link.script<number>(TAKE_BLOCK, [keys.ids, keys.fence, keys.epoch], [
      String(ID_BLOCK),
    ]).then((high) => {
      if (high < 0) return;
      this.#spare = [high - ID_BLOCK + 1, high];
      this.#highest = Math.max(this.#highest, high);
    }).finally(() => this.#fetching = undefined);
  }
}

/** A registry whose ids and names are the room's, and whose limits are this server's. */
export class RedisRegistry implements Registry {
  readonly names: RedisNames;
  #local: Registry;
  #ids: IdBlocks;

  private constructor(local: Registry, names: RedisNames, ids: IdBlocks) {
    this.#local = local;
    this.names = names;
    this.#ids = ids;
  }

  /** Joins the room through `link`; admission stays with `local`. */
  static async join(link: RedisLink, local: Registry, logger: Logger): Promise<RedisRegistry> {
    const ids = new IdBlocks(link, logger);
    const names = new RedisNames(link, logger, () => ids.highest);
    await ids.start();
    await names.start();
    return new RedisRegistry(local, names, ids);
  }

  get maxConns(): number {
    return this.#local.maxConns;
  }

  get maxConnsPerIp(): number {
    return this.#local.maxConnsPerIp;
  }

  nextId(): number {
    return this.#ids.next();
  }

  admit(ip: string | undefined): Refusal | undefined {
    return this.#local.admit(ip);
  }

  release(ip: string | undefined): void {
    this.#local.release(ip);
  }
}
