/**
 * Connection ids for the servers of a room shared through Redis: blocks of {@linkcode ID_BLOCK}
 * taken from one counter, so that `user<ID>` names never clash across servers and taking an id
 * never waits for Redis. After Redis lost the room's data, the counter is raised past every id a
 * live server holds before a new block is handed out (see `KEEP` and `TAKE_BLOCK`).
 */

import type { Logger } from "../log.ts";
import { delay } from "../util/delay.ts";
import type { RedisLink } from "./link.ts";
import { HEARTBEAT_MS } from "./names.ts";
import { RAISE, TAKE_BLOCK } from "./scripts.ts";

/** Ids are taken from the room's counter this many at a time. */
export const ID_BLOCK = 1000;

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
      this.#link.run(RAISE, [this.#link.keys.ids], [String(this.#highest)])
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
    return this.#fetching ??= this.#link.run<number>(TAKE_BLOCK, [keys.ids, keys.fence, keys.epoch], [
      String(ID_BLOCK),
    ]).then((high) => {
      if (high < 0) return;
      this.#spare = [high - ID_BLOCK + 1, high];
      this.#highest = Math.max(this.#highest, high);
    }).finally(() => this.#fetching = undefined);
  }
}
