/**
 * The registry of a chat room shared by several servers through Redis (`--redis`): ids and names
 * are the room's (`ids.ts`, `names.ts`); admission limits stay with the server (its own
 * `MemoryRegistry`, or its workers' `SharedRegistry`).
 */

import type { Logger } from "../log.ts";
import type { Refusal, Registry } from "../registry/registry.ts";
import { IdBlocks } from "./ids.ts";
import type { RedisLink } from "./link.ts";
import { RedisNames } from "./names.ts";

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
