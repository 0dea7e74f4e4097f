/**
 * The registry of one process: plain counters and maps, no locks, no shared memory.
 */

import { nameKey } from "../protocol/names.ts";
import type { Holder, Names, Refusal, Registry, RegistryLimits } from "./registry.ts";

/** Chat names in a map keyed by {@linkcode nameKey}. */
class MemoryNames implements Names {
  #holders = new Map<string, { name: string; owner: number }>();

  claim(name: string, owner: number): boolean {
    const key = nameKey(name);
    const holder = this.#holders.get(key);
    if (holder !== undefined && holder.owner !== owner) return false;
    this.#holders.set(key, { name, owner });
    return true;
  }

  release(name: string, owner: number): void {
    const key = nameKey(name);
    if (this.#holders.get(key)?.owner === owner) this.#holders.delete(key);
  }

  list(): Holder[] {
    return [...this.#holders.values()].sort((a, b) => a.owner - b.owner);
  }

  count(): number {
    return this.#holders.size;
  }

  holder(name: string): number | undefined {
    return this.#holders.get(nameKey(name))?.owner;
  }
}

/** Ids, limits and names for a server that runs in one isolate. */
export class MemoryRegistry implements Registry {
  readonly maxConns: number;
  readonly maxConnsPerIp: number;
  readonly names: Names = new MemoryNames();
  #lastId = 0;
  #open = 0;
  #perIp = new Map<string, number>();

  constructor(limits: RegistryLimits = {}) {
    this.maxConns = limits.maxConns ?? 10000;
    this.maxConnsPerIp = limits.maxConnsPerIp ?? 0;
  }

  nextId(): number {
    return ++this.#lastId;
  }

  admit(ip: string | undefined): Refusal | undefined {
    if (this.#open >= this.maxConns) return "server full";
    if (this.maxConnsPerIp > 0 && ip !== undefined) {
      const count = this.#perIp.get(ip) ?? 0;
      if (count >= this.maxConnsPerIp) return "too many connections from one address";
      this.#perIp.set(ip, count + 1);
    }
    this.#open++;
    return undefined;
  }

  release(ip: string | undefined): void {
    this.#open--;
    if (this.maxConnsPerIp > 0 && ip !== undefined) {
      const count = this.#perIp.get(ip) ?? 1;
      if (count > 1) this.#perIp.set(ip, count - 1);
      else this.#perIp.delete(ip);
    }
  }
}
