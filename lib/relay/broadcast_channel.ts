/**
 * The relay between the workers of one server: a BroadcastChannel that every worker joins. Lines
 * are batched until the current burst of work is done, so a busy room costs one message per
 * worker per batch rather than one per line. A BroadcastChannel never delivers a message to the
 * object that posted it, so nothing comes back to its sender.
 *
 * A batch is one record per line: `S` (said) or `N` (a notice) and the line, or `P`, the
 * recipient's id, a space and the line (private); then `\n`. No line contains a `\n`, since the
 * framer split on it.
 */

import type { LineKind, Relay, RelayHandlers } from "./relay.ts";

const NEWLINE = 0x0a;
const SAID = 0x53; // "S"
const NOTICE = 0x4e; // "N"
const PRIVATE = 0x50; // "P"
const SPACE = 0x20;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** One worker's end of the channel that links the chat rooms of every worker. */
export class BroadcastChannelRelay implements Relay {
  #channel: BroadcastChannel;
  #batch: { line: Uint8Array; kind: LineKind }[] = [];
  #batchBytes = 0;

  /** Joins the channel called `name`. */
  constructor(name: string) {
    this.#channel = new BroadcastChannel(name);
  }

  open({ deliver }: RelayHandlers): void {
    this.#channel.onmessage = (event: MessageEvent<Uint8Array>) => {
      const batch = event.data;
      let start = 0;
      for (let end = batch.indexOf(NEWLINE); end !== -1; end = batch.indexOf(NEWLINE, start)) {
        if (batch[start] === PRIVATE) {
          const space = batch.indexOf(SPACE, start);
          const to = Number(decoder.decode(batch.subarray(start + 1, space)));
          deliver({ line: batch.subarray(space + 1, end), kind: "private", to });
        } else {
          deliver({ line: batch.subarray(start + 1, end), kind: batch[start] === SAID ? "said" : "notice" });
        }
        start = end + 1;
      }
    };
  }

  publish(line: string | Uint8Array, kind: LineKind = "notice", to?: number): void {
    let bytes = typeof line === "string" ? encoder.encode(line) : line;
    if (kind === "private") {
      const head = encoder.encode(`${to} `);
      const joined = new Uint8Array(head.length + bytes.length);
      joined.set(head);
      joined.set(bytes, head.length);
      bytes = joined;
    }
    if (this.#batch.length === 0) queueMicrotask(() => this.#flush());
    this.#batch.push({ line: bytes, kind });
    this.#batchBytes += bytes.length + 2;
  }

  close(): void {
    this.#flush();
    this.#channel.close();
  }

  #flush(): void {
    if (this.#batch.length === 0) return;
    const joined = new Uint8Array(this.#batchBytes);
    let offset = 0;
    for (const { line, kind } of this.#batch) {
      joined[offset] = kind === "said" ? SAID : kind === "private" ? PRIVATE : NOTICE;
      joined.set(line, offset + 1);
      joined[offset + 1 + line.length] = NEWLINE;
      offset += line.length + 2;
    }
    this.#batch = [];
    this.#batchBytes = 0;
    this.#channel.postMessage(joined);
  }
}
