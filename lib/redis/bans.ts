/**
 * The operator's bans in Redis: one hash of the chat's (`{parley}`), address or block -> until
 * (ms since the epoch), which a server reads before it listens. A ban past its time is left out,
 * and deleted by whoever reads it.
 */

import type { BanStore, StoredBan } from "../backend.ts";
import type { RedisLink } from "./link.ts";

/** The chat's bans, kept in Redis. */
export class RedisBans implements BanStore {
  #link: RedisLink;

  constructor(link: RedisLink) {
    this.#link = link;
  }

  async load(): Promise<StoredBan[]> {
    const reply = await this.#link.send<Record<string, string> | string[]>(["HGETALL", this.#link.keys.bans]);
    const pairs = Array.isArray(reply)
      ? Array.from(
        { length: Math.floor(reply.length / 2) },
        (_, i) => [String(reply[2 * i]), String(reply[2 * i + 1])],
      )
      : Object.entries(reply).map(([entry, until]) => [entry, String(until)]);
    const now = Date.now();
    const bans: StoredBan[] = [];
    for (const [entry, text] of pairs) {
      const until = Number(text);
      if (Number.isSafeInteger(until) && until > now) bans.push({ entry, until });
      else this.#link.send(["HDEL", this.#link.keys.bans, entry]).catch(() => {});
    }
    return bans;
  }

  async save({ entry, until }: StoredBan): Promise<void> {
    await this.#link.send(["HSET", this.#link.keys.bans, entry, String(until)]);
  }

  async remove(entry: string): Promise<void> {
    await this.#link.send(["HDEL", this.#link.keys.bans, entry]);
  }
}
