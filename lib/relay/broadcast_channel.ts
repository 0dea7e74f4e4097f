/**
 * The relay between the workers of one server: a BroadcastChannel that every worker joins. Lines
 * are batched until the current burst of work is done, so a busy room costs one message per
 * worker per batch rather than one per line. A BroadcastChannel never delivers a message to the
 * object that posted it, so nothing comes back to its sender.
 */

import type { Relay, RelayHandlers } from "./relay.ts";

const NEWLINE = 0x0a;
const encoder = new TextEncoder();

/** One worker's end of the channel that links the chat rooms of every worker. */
export class BroadcastChannelRelay implements Relay {
  #channel: BroadcastChannel;
  #batch: Uint8Array[] = [];
  #batchBytes = 0;

  /** Joins the channel called `name`. */
  constructor(name: string) {
    this.#channel = new BroadcastChannel(name);
  }

  open({ deliver }: RelayHandlers): void {
    this.#channel.onmessage = (event: MessageEvent<Uint8Array>) => {
      // A batch is its lines joined by \n; no line contains one, since the framer split on it.
      const batch = event.data;
      let start = 0;
      for (let end = batch.indexOf(NEWLINE); end !== -1; end = batch.indexOf(NEWLINE, start)) {
        deliver(batch.subarray(start, end));
        start = end + 1;
      }
    };
  }

  publish(line: string | Uint8Array): void {
    const bytes = typeof line === "string" ? encoder.encode(line) : line;
    if (this.#batch.length === 0) queueMicrotask(() => this.#flush());
    this.#batch.push(bytes);
    this.#batchBytes += bytes.length + 1;
  }

  close(): void {
    this.#flush();
    this.#channel.close();
  }

  #flush(): void {
    if (this.#batch.length === 0) return;
    const joined = new Uint8Array(this.#batchBytes);
    let offset = 0;
    for (const line of this.#batch) {
      joined.set(line, offset);
      joined[offset + line.length] = NEWLINE;
      offset += line.length + 1;
    }
    this.#batch = [];
    this.#batchBytes = 0;
    this.#channel.postMessage(joined);
  }
}
