/**
 * The registry of `--workers`: connection ids, the connection limits and the chat names, in
 * SharedArrayBuffers that every worker of one server attaches to. `--max-conns 100` then means 100
 * in all, not 100 per worker, and two workers never hand out the same id or the same name. Every
 * operation is one atomic step across isolates: counters use `Atomics`, tables their own lock
 * ({@linkcode SharedTable}). Only the workers use it; a single process has a `MemoryRegistry`.
 */

import { nameKey } from "../protocol/names.ts";
import type { Holder, Names, Refusal, Registry, RegistryLimits } from "./registry.ts";
import { SharedTable } from "./shared_table.ts";

/** The buffers behind a {@linkcode SharedRegistry}; post them to a worker to share it. */
export interface SharedRegistryBuffers {
  counters: SharedArrayBuffer;
  addresses: SharedArrayBuffer | null;
  names: SharedArrayBuffer;
}

/** Options for {@linkcode SharedRegistry.create}. */
export interface SharedRegistryOptions extends RegistryLimits {
  /** Workers that may each be renaming someone at the same moment. @default {1} */
  workers?: number;
}

const NEXT_ID = 0;
const OPEN = 1;
const MAX_CONNS = 2;
const MAX_CONNS_PER_IP = 3;

/** Chat names in a shared table: each key ({@linkcode nameKey}) maps to the id of the connection
 * that holds it, and is labelled with the name as that connection spelled it. */
class SharedNames implements Names {
  #table: SharedTable;

  constructor(table: SharedTable) {
    this.#table = table;
  }

  claim(name: string, owner: number): boolean {
    return this.#table.claim(nameKey(name), owner, name);
  }

  release(name: string, owner: number): void {
    this.#table.release(nameKey(name), owner);
  }

  holder(name: string): number | undefined {
    return this.#table.get(nameKey(name));
  }

  list(): Holder[] {
    return this.#table.entries().sort((a, b) => a[1] - b[1]).map(([name, owner]) => ({ name, owner }));
  }

  count(): number {
    return this.#table.size;
  }
}

/** Ids, limits and names shared by the workers of one server. */
export class SharedRegistry implements Registry {
  readonly buffers: SharedRegistryBuffers;
  readonly names: Names;
  #counters: Int32Array;
  #addresses: SharedTable | undefined;

  /** Makes the buffers, in the thread that starts the workers. */
  static create(options: SharedRegistryOptions = {}): SharedRegistry {
    const { maxConns = 10000, maxConnsPerIp = 0, workers = 1 } = options;
    const counters = new Int32Array(new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT));
    counters[MAX_CONNS] = maxConns;
    counters[MAX_CONNS_PER_IP] = maxConnsPerIp;
    return new SharedRegistry({
      counters: counters.buffer as SharedArrayBuffer,
      // Each open connection counts toward one address and holds one name; a rename briefly
      // holds two.
      addresses: maxConnsPerIp > 0 ? SharedTable.create(maxConns).buffer : null,
      names: SharedTable.create(maxConns + workers).buffer,
    });
  }

  /** Attaches to buffers made by {@linkcode SharedRegistry.create}, in this isolate or another. */
  constructor(buffers: SharedRegistryBuffers) {
    this.buffers = buffers;
    this.#counters = new Int32Array(buffers.counters);
    this.#addresses = buffers.addresses === null ? undefined : new SharedTable(buffers.addresses);
    this.names = new SharedNames(new SharedTable(buffers.names));
  }

  get maxConns(): number {
    return this.#counters[MAX_CONNS];
  }

  get maxConnsPerIp(): number {
    return this.#counters[MAX_CONNS_PER_IP];
  }

  nextId(): number {
    return Atomics.add(this.#counters, NEXT_ID, 1) + 1;
  }

  admit(ip: string | undefined): Refusal | undefined {
    if (Atomics.add(this.#counters, OPEN, 1) >= this.maxConns) {
      Atomics.sub(this.#counters, OPEN, 1);
      return "server full";
    }
    const limit = this.maxConnsPerIp;
    if (this.#addresses !== undefined && ip !== undefined) {
      let admitted = false;
      this.#addresses.update(ip, (count = 0) => {
        admitted = count < limit;
        return admitted ? count + 1 : count;
      });
      if (!admitted) {
        Atomics.sub(this.#counters, OPEN, 1);
        return "too many connections from one address";
      }
    }
    return undefined;
  }

  release(ip: string | undefined): void {
    Atomics.sub(this.#counters, OPEN, 1);
    if (ip !== undefined) this.#addresses?.update(ip, (count = 1) => count > 1 ? count - 1 : undefined);
  }
}
