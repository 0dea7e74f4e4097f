/**
 * A room member with no connection behind it, for unit tests of the modes: it records every line
 * the mode sends it and how the mode closed it.
 */

import type { CloseReason } from "../../lib/server/close_reason.ts";
import type { Member } from "../../lib/server/modes/mode.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A member that keeps what it is sent. */
export class FakeMember implements Member {
  readonly remote: string;
  readonly transport = "tcp";
  readonly ip: string = "127.0.0.1";
  readonly connectedAt = Date.now();
  linesIn = 0;
  linesOut = 0;
  /** Every line sent to it, decoded, including a farewell. */
  readonly received: string[] = [];
  /** How the mode closed it, if it did. */
  closed: { reason: CloseReason; farewell?: string } | undefined;

  constructor(readonly id: number) {
    this.remote = `127.0.0.1:${5000 + id}`;
  }

  send(line: string | Uint8Array): void {
    if (this.closed) return;
    this.received.push(typeof line === "string" ? line : decoder.decode(line));
    this.linesOut++;
  }

  close(reason: CloseReason, farewell?: string): void {
    if (this.closed) return;
    this.closed = { reason, farewell };
    if (farewell !== undefined) this.received.push(farewell);
  }

  /** Takes every line received so far. */
  take(): string[] {
    return this.received.splice(0);
  }
}

/** `text` as the bytes a connection hands a mode. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text);
}
