/**
 * Rounds of reading, so that a saturated server serves every connection in turn.
 *
 * Deno completes a read at once when the socket is known to be readable, without going back to the
 * event loop, and tokio remembers a socket as readable until a read finds it empty. Under
 * saturation a connection whose client answers quickly therefore reads again and again, while a
 * connection whose read had to wait needs the I/O driver to poll the kernel (epoll) before it can
 * complete, and a busy event loop polls it rarely: such clients got nothing for seconds (150 to 250
 * of 1000 busy echo clients starved). So each connection reads at most once per round, and a round
 * ends only when the I/O driver has polled: a one-byte "doorbell" is written to a loopback socket
 * whose other end has a read waiting, and that read can complete only through the same poll that
 * wakes every other waiting connection. The next round then serves them all.
 *
 * The connections that waited are let go in groups of {@linkcode GROUP}, one group per turn of the
 * event loop (a MessageChannel hop): tokio lets one turn complete about 128 socket operations at
 * once and defers the rest at extra cost, and each let-go connection reads and writes once.
 *
 * When nothing waits for it a round costs nothing; each round costs a one-byte write and read.
 */

const DOORBELL = new Uint8Array([1]);
/** Connections let go per turn of the event loop: a read and a write each, within tokio's 128. */
const GROUP = 60;

/** What a connection needs of the rounds. */
export interface Turns {
  /** The number of the round under way. */
  readonly current: number;
  /** `undefined` when `round` is over; else a promise that resolves when the caller's turn comes. */
  after(round: number): Promise<void> | undefined;
}

/** The current round, and a way to wait for the next. */
export class Rounds implements Turns {
  #current = 0;
  /** Who waits for the next round, in groups; the last one is filling up. */
  #waiting: PromiseWithResolvers<void>[] = [];
  #inGroup = 0;
  /** Groups of the rounds begun, not yet let go. */
  #ready: PromiseWithResolvers<void>[] = [];
  #turns = new MessageChannel();
  #bell: { ring: Deno.TcpConn; hear: Deno.TcpConn } | undefined;
  #closed = false;
  #opening: Promise<void>;

  constructor() {
    this.#turns.port1.onmessage = () => this.#letGo();
    this.#opening = this.#open().catch(() => {/* no loopback socket: rounds stay off */});
  }

  /** The number of the round under way. */
  get current(): number {
    return this.#current;
  }

  /**
   * `undefined` when round `round` is over already (or rounds are off); else a promise that
   * resolves once the next round has begun and this caller's turn has come.
   */
  after(round: number): Promise<void> | undefined {
    if (round !== this.#current || this.#bell === undefined) return undefined;
    if (this.#waiting.length === 0) this.#bell.ring.write(DOORBELL).catch(() => this.#endRound());
    if (this.#waiting.length === 0 || this.#inGroup === GROUP) {
      this.#waiting.push(Promise.withResolvers());
      this.#inGroup = 0;
    }
    this.#inGroup++;
    return this.#waiting.at(-1)!.promise;
  }

  /** Stops the rounds, letting every waiter go. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#opening;
    for (const conn of [this.#bell?.ring, this.#bell?.hear]) {
      try {
        conn?.close();
      } catch {
        // Closed already.
      }
    }
    this.#bell = undefined;
    this.#endRound();
    for (const group of this.#ready.splice(0)) group.resolve();
    this.#turns.port1.close();
    this.#turns.port2.close();
  }

  async #open(): Promise<void> {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const [ring, hear] = await Promise.all([
        Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
        listener.accept(),
      ]);
      ring.setNoDelay(true);
      this.#bell = { ring, hear };
    } finally {
      listener.close();
    }
    if (!this.#closed) void this.#listen(this.#bell.hear);
  }

  async #listen(hear: Deno.TcpConn): Promise<void> {
    const buffer = new Uint8Array(64);
    try {
      while ((await hear.read(buffer)) !== null) this.#endRound();
    } catch {
      // Closed at shutdown.
    }
    this.#bell = undefined;
    this.#endRound();
  }

  #endRound(): void {
    this.#current++;
    this.#ready.push(...this.#waiting);
    this.#waiting = [];
    this.#inGroup = 0;
    this.#letGo();
  }

  /** Lets the next group go, and the one after it in the next turn of the event loop. */
  #letGo(): void {
    this.#ready.shift()?.resolve();
    if (this.#ready.length > 0 && !this.#closed) this.#turns.port2.postMessage(null);
  }
}
