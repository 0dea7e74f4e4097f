/**
 * The server's members: every live client, by id. The accept loop adds a client once it is served
 * and removes it when it starts closing (one microtask later, see `Connection`); the modes look
 * clients up and broadcast here. Who is in which conversation is the mode's business, not this.
 */

import type { Member } from "./modes/mode.ts";

/** Live members by id, in the order they joined. */
export class Members<M extends Member = Member> {
  #members = new Map<number, M>();

  /** Number of live members. */
  get size(): number {
    return this.#members.size;
  }

  add(member: M): void {
    this.#members.set(member.id, member);
  }

  delete(member: M): void {
    this.#members.delete(member.id);
  }

  get(id: number): M | undefined {
    return this.#members.get(id);
  }

  /** Live members in the order they joined. */
  [Symbol.iterator](): IterableIterator<M> {
    return this.#members.values();
  }

  /** Queues `line` for every live member but `except`. */
  broadcast(line: string | Uint8Array, except?: Member): void {
    for (const member of this.#members.values()) {
      if (member !== except) member.send(line);
    }
  }
}
