/**
 * An in-memory Redis for the unit tests of the Redis backend: one keyspace that several links
 * (several servers) share, the handful of commands the backend sends, and its scripts, run by name
 * as TypeScript that does what the Lua in `lib/redis/scripts.ts` does. TTLs run on a clock the
 * test can move ({@linkcode FakeRedis.advance}); a link can go down and come back as a real one
 * does. The real-Redis tests (`tests/e2e/redis_*`) stay: this is for the logic above the link.
 */

import { Buffer } from "node:buffer";
import { type ChatKeys, chatKeys } from "../../lib/redis/keys.ts";
import type { RedisArgument, RedisLink } from "../../lib/redis/link.ts";
import type { RedisScript } from "../../lib/redis/scripts.ts";

type Reply = number | string | null | Reply[] | { [field: string]: string };

/** One keyspace, with pub/sub, shared by every link made from it. */
export class FakeRedis {
  #strings = new Map<string, { value: string; expires: number }>();
  #hashes = new Map<string, Map<string, string>>();
  #sets = new Map<string, Set<string>>();
  #streams = new Map<string, { id: string; fields: string[] }[]>();
  #channels = new Map<string, Set<(message: Buffer) => void>>();
  #offset = 0;
  #lastId = [0, 0];
  #lastStamp = 0;

  /** The links made so far, so that a test can close what it opened. */
  readonly links: FakeLink[] = [];

  /** A new server's link to the chat. */
  link(): FakeLink {
    const link = new FakeLink(this, chatKeys());
    this.links.push(link);
    return link;
  }

  /** Moves the clock on by `ms`: keys whose TTL ran out are gone. */
  advance(ms: number): void {
    this.#offset += ms;
  }

  /** `FLUSHALL`: Redis lost every key (a restart from an empty dump). */
  flushAll(): void {
    this.#strings.clear();
    this.#hashes.clear();
    this.#sets.clear();
    this.#streams.clear();
  }

  /** `GET`: the string at `key`, unless its TTL ran out. */
  get(key: string): string | null {
    const entry = this.#strings.get(key);
    if (entry === undefined) return null;
    if (entry.expires <= this.#now()) {
      this.#strings.delete(key);
      return null;
    }
    return entry.value;
  }

  /** Runs one command. */
  command(args: RedisArgument[]): Reply {
    const [name, ...rest] = args.map((arg) => typeof arg === "string" ? arg : arg.toString("latin1"));
    switch (name.toUpperCase()) {
      case "FLUSHALL":
        this.flushAll();
        return "OK";
      case "HGET":
        return this.#hash(rest[0]).get(rest[1]) ?? null;
      case "HGETALL":
        // As the client gives it: an object of fields.
        return Object.fromEntries(this.#hash(rest[0]));
      case "HSET": {
        const hash = this.#hash(rest[0]);
        for (let i = 1; i + 1 < rest.length; i += 2) hash.set(rest[i], rest[i + 1]);
        return (rest.length - 1) / 2;
      }
      case "HDEL":
        return rest.slice(1).filter((field) => this.#hash(rest[0]).delete(field)).length;
      case "HVALS":
        return [...this.#hash(rest[0]).values()];
      case "HLEN":
        return this.#hash(rest[0]).size;
      case "SMEMBERS":
        return [...(this.#sets.get(rest[0]) ?? [])];
      case "EXISTS":
        return this.#exists(rest[0]) ? 1 : 0;
      case "PUBLISH":
        return this.#publish(rest[0], typeof args[2] === "string" ? Buffer.from(args[2]) : args[2]);
      case "XREVRANGE": {
        const count = Number(rest[4] ?? Infinity);
        const entries = this.#streams.get(rest[0]) ?? [];
        return entries.slice(-count).reverse().map((entry) => [entry.id, entry.fields]);
      }
      default:
        throw new Error(`the fake Redis does not know ${name}`);
    }
  }

  /** Runs `script` as its Lua would. */
  script(script: RedisScript, keys: string[], args: RedisArgument[]): Reply {
    const argv = args.map((arg) => typeof arg === "string" ? arg : arg.toString("latin1"));
    switch (script.name) {
      case "claim":
        return this.#claim(keys, argv);
      case "release":
        return this.#release(keys, argv);
      case "keep":
        return this.#keep(keys, argv);
      case "reap":
        return this.#reap(keys, argv);
      case "take-block":
        return this.#takeBlock(keys, argv);
      case "raise":
        return this.#raise(keys[0], Number(argv[0]));
      case "publish-and-keep":
        return this.#publishAndKeep(keys, argv);
      default:
        throw new Error(`the fake Redis does not know the script ${script.name}`);
    }
  }

  /** Calls `listener` with each message published on `channel`. */
  subscribe(channel: string, listener: (message: Buffer) => void): () => void {
    if (!this.#channels.has(channel)) this.#channels.set(channel, new Set());
    this.#channels.get(channel)!.add(listener);
    return () => this.#channels.get(channel)?.delete(listener);
  }

  #now(): number {
    return Date.now() + this.#offset;
  }

  #set(key: string, value: string, ttlMs = Infinity): void {
    this.#strings.set(key, { value, expires: this.#now() + ttlMs });
  }

  #del(key: string): number {
    const existed = this.#exists(key);
    this.#strings.delete(key);
    this.#hashes.delete(key);
    this.#sets.delete(key);
    this.#streams.delete(key);
    return existed ? 1 : 0;
  }

  #exists(key: string): boolean {
    return this.get(key) !== null || this.#hashes.has(key) || this.#sets.has(key) || this.#streams.has(key);
  }

  #hash(key: string): Map<string, string> {
    if (!this.#hashes.has(key)) this.#hashes.set(key, new Map());
    return this.#hashes.get(key)!;
  }

  #publish(channel: string, message: Buffer): number {
    const listeners = [...(this.#channels.get(channel) ?? [])];
    // As from a real server: the message arrives after the command's reply.
    setTimeout(() => listeners.forEach((listener) => listener(message)), 0);
    return listeners.length;
  }

  #claim([name, online]: string[], [node, owner, since, joined, shown, ttl, folded]: string[]): number {
    const held = this.get(name);
    if (held !== null && !held.startsWith(`${node}|${owner}|`)) return 0;
    const value = [node, owner, since, joined, shown].join("|");
    this.#set(name, value, Number(ttl));
    this.#hash(online).set(folded, value);
    return 1;
  }

  #release([name, online]: string[], [node, owner, folded]: string[]): number {
    const mine = `${node}|${owner}|`;
    if (this.get(name)?.startsWith(mine)) this.#del(name);
    if (this.#hash(online).get(folded)?.startsWith(mine)) this.#hash(online).delete(folded);
    return 1;
  }

  #keep(keys: string[], argv: string[]): (string | number)[] {
    const [presence, nodes, online, tombstone, epoch, fence, ids] = keys;
    const [node, presenceTtl, nameTtl, highest, fenceMs] = argv;
    this.#set(presence, "1", Number(presenceTtl));
    this.#setOf(nodes).add(node);
    if (!this.#exists(epoch)) {
      this.#set(epoch, this.#stamp());
      this.#set(fence, "1", Number(fenceMs));
    }
    const reply: (string | number)[] = [this.get(tombstone) ?? "", this.get(epoch)!];
    this.#raise(ids, Number(highest));
    const names = keys.slice(7);
    const fields = (value: string) => value.split("|");
    for (const [i, key] of names.entries()) {
      const value = argv[5 + i];
      const held = this.get(key);
      let take = held === null;
      if (held !== null) {
        const [heldNode, heldOwner, heldSince] = fields(held);
        const [myNode, myOwner, mySince] = fields(value);
        take = (heldNode === myNode && heldOwner === myOwner) || Number(mySince) < Number(heldSince) ||
          (Number(mySince) === Number(heldSince) && myNode < heldNode);
      }
      if (take) {
        this.#set(key, value, Number(nameTtl));
        this.#hash(online).set(argv[5 + names.length + i], value);
      } else {
        reply.push(i);
      }
    }
    return reply;
  }

  #reap([presence, nodes, online, tombstone, rooms]: string[], [node, namePrefix, how]: string[]): Reply {
    if (how === "leave") {
      this.#del(presence);
      this.#setOf(nodes).delete(node);
    } else if (this.#exists(presence) || !this.#setOf(nodes).delete(node)) {
      return [[], []];
    } else {
      this.#set(tombstone, this.#stamp(), 3600000);
    }
    const moved: string[] = [];
    for (const [field, value] of [...this.#hash(rooms)]) {
      if (!field.startsWith(`${node}|`)) continue;
      moved.push(field.slice(node.length + 1), value);
      this.#hash(rooms).delete(field);
    }
    const mine = `${node}|`;
    const gone: string[] = [];
    for (const [folded, value] of [...this.#hash(online)]) {
      if (!value.startsWith(mine)) continue;
      this.#hash(online).delete(folded);
      if (this.get(namePrefix + folded)?.startsWith(mine)) this.#del(namePrefix + folded);
      gone.push(value);
    }
    return [gone, moved];
  }

  #takeBlock([ids, fence, epoch]: string[], [block]: string[]): number {
    if (this.#exists(fence)) return -1;
    if (!this.#exists(epoch)) this.#set(epoch, this.#stamp());
    const next = Number(this.get(ids) ?? 0) + Number(block);
    this.#set(ids, String(next));
    return next;
  }

  /** A stamp of this Redis's clock, as the scripts make one (`TIME`); never the same twice here. */
  #stamp(): string {
    const micros = Math.max(this.#now() * 1000, this.#lastStamp + 1);
    this.#lastStamp = micros;
    return `${Math.floor(micros / 1e6)}.${micros % 1e6}`;
  }

  #raise(ids: string, to: number): number {
    if (Number(this.get(ids) ?? 0) < to) this.#set(ids, String(to));
    return 1;
  }

  #publishAndKeep([stream]: string[], [node, channel, most, batch]: string[]): number {
    const out = [node];
    for (const [, kind, line] of batch.matchAll(/([SNP]) ([^\n]*)\n/g)) {
      if (kind === "P") {
        out.push(`P ${line}`);
        continue;
      }
      let mark = "-";
      if (kind === "S") mark = this.#append(stream, line, Number(most));
      out.push(`${kind} ${mark} ${line}`);
    }
    this.#publish(channel, Buffer.from(out.join("\n"), "latin1"));
    return 1;
  }

  /** `XADD stream MAXLEN most * l line`: the line, as the UTF-8 it was sent as. */
  #append(stream: string, line: string, most: number): string {
    const ms = this.#now();
    this.#lastId = ms > this.#lastId[0] ? [ms, 0] : [this.#lastId[0], this.#lastId[1] + 1];
    const id = this.#lastId.join("-");
    if (!this.#streams.has(stream)) this.#streams.set(stream, []);
    const entries = this.#streams.get(stream)!;
    entries.push({ id, fields: ["l", Buffer.from(line, "latin1").toString()] });
    if (entries.length > most) entries.splice(0, entries.length - most);
    return id;
  }

  #setOf(key: string): Set<string> {
    if (!this.#sets.has(key)) this.#sets.set(key, new Set());
    return this.#sets.get(key)!;
  }
}

/** One server's link to a {@linkcode FakeRedis}; `down()` and `back()` play an outage. */
export class FakeLink implements RedisLink {
  readonly node: string = crypto.randomUUID();
  readonly keys: ChatKeys;
  readonly sharded = false;
  readonly shown = "fake redis";
  readonly roundTripMs = 0;
  #redis: FakeRedis;
  #up = true;
  #outages = 0;
  #watchers = new Set<(up: boolean) => void>();
  #unsubscribe = new Map<string, (() => void)[]>();
  #closed = false;

  constructor(redis: FakeRedis, keys: ChatKeys) {
    this.#redis = redis;
    this.keys = keys;
  }

  get up(): boolean {
    return this.#up;
  }

  get outages(): number {
    return this.#outages;
  }

  /** The link goes down: commands fail, and watchers are told. */
  down(): void {
    if (!this.#up) return;
    this.#up = false;
    this.#outages++;
    for (const watcher of this.#watchers) watcher(false);
  }

  /** The link is back. */
  back(): void {
    if (this.#up) return;
    this.#up = true;
    for (const watcher of this.#watchers) watcher(true);
  }

  send<T>(args: RedisArgument[]): Promise<T> {
    return this.#call(() => this.#redis.command(args));
  }

  run<T>(script: RedisScript, keys: string[], args: RedisArgument[]): Promise<T> {
    return this.#call(() => this.#redis.script(script, keys, args));
  }

  subscribe(channel: string, listener: (message: Buffer) => void): Promise<void> {
    // A link that is down hears nothing, as a subscriber whose connection dropped.
    const listening = this.#redis.subscribe(channel, (message) => this.#up && listener(message));
    this.#unsubscribe.set(channel, [...this.#unsubscribe.get(channel) ?? [], listening]);
    return Promise.resolve();
  }

  unsubscribe(channel: string): Promise<void> {
    for (const unsubscribe of this.#unsubscribe.get(channel) ?? []) unsubscribe();
    this.#unsubscribe.delete(channel);
    return Promise.resolve();
  }

  watch(watcher: (up: boolean) => void): void {
    this.#watchers.add(watcher);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#watchers.clear();
    for (const unsubscribe of [...this.#unsubscribe.values()].flat()) unsubscribe();
    return Promise.resolve();
  }

  /** Answers like a real link: after a turn of the event loop, or an error while down. */
  #call<T>(command: () => Reply): Promise<T> {
    if (!this.#up || this.#closed) return Promise.reject(new Error("the link is down"));
    return new Promise((resolve, reject) =>
      queueMicrotask(() => {
        try {
          resolve(command() as T);
        } catch (error) {
          reject(error);
        }
      })
    );
  }
}
