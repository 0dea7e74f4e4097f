/**
 * What every worker of one server shares: connection ids, the connection limits and the chat
 * names. It lives in SharedArrayBuffers, so that `--max-conns 100` means 100 in all, not 100 per
 * worker, and two workers never hand out the same id or the same name. With one worker it is the
 * same code, just never contended.
 */

import { SharedTable } from "./shared_table.ts";

/** The buffers behind a {@linkcode SharedState}; post them to a worker to share it. */
export interface SharedStateBuffers {
  counters: SharedArrayBuffer;
  addresses: SharedArrayBuffer | null;
  names: SharedArrayBuffer | null;
}

/** Options for {@linkcode SharedState.create}. */
export interface SharedStateOptions {
  /** Most connections at once, over every worker. */
  maxConns: number;
  /** Most connections at once from one address; 0 for no limit. */
  maxConnsPerIp: number;
  /** Whether to keep a table of chat names. */
  names: boolean;
  /** Workers that may each be renaming someone at the same moment. @default {1} */
  workers?: number;
}

/** Why a connection was turned away. */
export type Refusal = "server full" | "too many connections from one address";

const NEXT_ID = 0;
const OPEN = 1;
const MAX_CONNS = 2;
const MAX_CONNS_PER_IP = 3;

/** Ids, counts and names shared by the workers of one server. */
export class SharedState {
  readonly buffers: SharedStateBuffers;
  /** Chat names, each mapped to the id of the connection that holds it. */
  readonly names: SharedTable | undefined;
  #counters: Int32Array;
  #addresses: SharedTable | undefined;

  static create(options: SharedStateOptions): SharedState {
    const { maxConns, maxConnsPerIp, names, workers = 1 } = options;
    const counters = new Int32Array(new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT));
    counters[MAX_CONNS] = maxConns;
    counters[MAX_CONNS_PER_IP] = maxConnsPerIp;
    return new SharedState({
      counters: counters.buffer as SharedArrayBuffer,
      // Each open connection counts toward one address and holds one name; a rename briefly
      // holds two.
      addresses: maxConnsPerIp > 0 ? SharedTable.create(maxConns).buffer : null,
      names: names ? SharedTable.create(maxConns + workers).buffer : null,
    });
  }

  /** Attaches to buffers made by {@linkcode SharedState.create}, in this isolate or another. */
  constructor(buffers: SharedStateBuffers) {
    this.buffers = buffers;
    this.#counters = new Int32Array(buffers.counters);
    this.#addresses = buffers.addresses === null ? undefined : new SharedTable(buffers.addresses);
    this.names = buffers.names === null ? undefined : new SharedTable(buffers.names);
  }

  get maxConns(): number {
    return this.#counters[MAX_CONNS];
  }

  get maxConnsPerIp(): number {
    return this.#counters[MAX_CONNS_PER_IP];
  }

  /** A connection id no worker has used. */
  nextId(): number {
    return Atomics.add(this.#counters, NEXT_ID, 1) + 1;
  }

  /** Takes a place for a connection from `ip`, or says why there is none. */
  admit(ip: string): Refusal | undefined {
    if (Atomics.add(this.#counters, OPEN, 1) >= this.maxConns) {
      Atomics.sub(this.#counters, OPEN, 1);
      return "server full";
    }
    const limit = this.maxConnsPerIp;
    if (this.#addresses !== undefined) {
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

  /** Gives back the place an admitted connection from `ip` held. */
  release(ip: string): void {
    Atomics.sub(this.#counters, OPEN, 1);
    this.#addresses?.update(ip, (count = 1) => count > 1 ? count - 1 : undefined);
  }
}
