/**
 * Back-pressure for a room: while any client's output is backed up and its socket is still
 * draining, every sender of the room waits before its next read. Overload then slows the talkers,
 * never the readers: a client that reads as fast as it can is not dropped because the server fell
 * behind, it only makes the others wait. A client whose socket stops draining is not congestion
 * but a slow consumer; its connection stops counting here, and is dropped once it overflows.
 */

/** The backed-up members of one room, and a way to wait until there are none. */
export class Congestion {
  #backedUp = new Set<object>();
  #clear: PromiseWithResolvers<void> | undefined;

  /** `undefined` when nobody is backed up; else a promise that resolves once nobody is. */
  cleared(): Promise<void> | undefined {
    if (this.#backedUp.size === 0) return undefined;
    this.#clear ??= Promise.withResolvers();
    return this.#clear.promise;
  }

  /** `who` is backed up and still draining: senders should wait for it. */
  add(who: object): void {
    this.#backedUp.add(who);
  }

  /** `who` has caught up, stopped draining or left. */
  delete(who: object): void {
    if (!this.#backedUp.delete(who) || this.#backedUp.size > 0) return;
    this.#clear?.resolve();
    this.#clear = undefined;
  }
}
