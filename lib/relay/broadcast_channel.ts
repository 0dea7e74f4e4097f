/**
 * The relay between the workers of one server: a BroadcastChannel that every worker joins. Lines
 * are batched until the current burst of work is done, so a busy room costs one message per
 * worker per batch rather than one per line. A BroadcastChannel never delivers a message to the
 * object that posted it, so nothing comes back to its sender. Every worker hears every room (the
 * chat drops lines for rooms it has nobody in), so that each keeps every room's history.
 *
 * A batch is one record per line: `S` (said) or `N` (a notice), the room's name, a space and the
 * line; or `P` (private) or `C` (control), the recipient's id, a space and the line; then `\n`. No line contains a
 * `\n`, since the framer split on it, and no room name a space.
 */

import type { LineKind, Relay, RelayHandlers } from "./relay.ts";

const NEWLINE = 0x0a;
const SAID = 0x53; // "S"
const NOTICE = 0x4e; // "N"
const PRIVATE = 0x50; // "P"
const CONTROL = 0x43; // "C"
const SPACE = 0x20;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** One worker's end of the channel that links the chat rooms of every worker. */
export class BroadcastChannelRelay implements Relay {
  #channel: BroadcastChannel;
  #batch: { head: Uint8Array; line: Uint8Array; kind: LineKind }[] = [];
  #batchBytes = 0;
  /** `#room ` encoded, for the rooms published to lately: a busy room's lines encode it once. */
  #heads = new Map<string | number, Uint8Array>();

  /** Joins the channel called `name`. */
  constructor(name: string) {
    this.#channel = new BroadcastChannel(name);
  }

  open({ deliver }: RelayHandlers): void {
    this.#channel.onmessage = (event: MessageEvent<Uint8Array>) => {
      const batch = event.data;
      let start = 0;
      for (let end = batch.indexOf(NEWLINE); end !== -1; end = batch.indexOf(NEWLINE, start)) {
        const space = batch.indexOf(SPACE, start);
        const head = decoder.decode(batch.subarray(start + 1, space));
        const line = batch.subarray(space + 1, end);
        if (batch[start] === PRIVATE) deliver({ line, kind: "private", to: Number(head) });
        else if (batch[start] === CONTROL) deliver({ line, kind: "control", to: Number(head) });
        else deliver({ line, kind: batch[start] === SAID ? "said" : "notice", room: head });
        start = end + 1;
      }
    };
  }

  publish(line: string | Uint8Array, kind: LineKind, to: string | number): void {
    const bytes = typeof line === "string" ? encoder.encode(line) : line;
    let head = this.#heads.get(to);
    if (head === undefined) {
      if (this.#heads.size >= 1024) this.#heads.clear();
      head = encoder.encode(`${to} `);
      this.#heads.set(to, head);
    }
    if (this.#batch.length === 0) queueMicrotask(() => this.#flush());
    this.#batch.push({ head, line: bytes, kind });
    this.#batchBytes += head.length + bytes.length + 2;
  }

  close(): void {
    this.#flush();
    this.#channel.close();
  }

  #flush(): void {
    if (this.#batch.length === 0) return;
    const joined = new Uint8Array(this.#batchBytes);
    let offset = 0;
    for (const { head, line, kind } of this.#batch) {
      joined[offset] = kind === "said"
        ? SAID
        : kind === "private"
        ? PRIVATE
        : kind === "control"
        ? CONTROL
        : NOTICE;
      joined.set(head, offset + 1);
      joined.set(line, offset + 1 + head.length);
      offset += head.length + line.length + 1;
      joined[offset++] = NEWLINE;
    }
    this.#batch = [];
    this.#batchBytes = 0;
    this.#channel.postMessage(joined);
  }
}
