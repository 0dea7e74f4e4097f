/**
 * A WebSocket client written by hand, as a byte stream of lines: what is written becomes masked
 * text frames (a line is one message; bytes without their `\n` yet are an unfinished fragment),
 * and the server's text frames read back as lines. So a test can drive a WebSocket exactly as it
 * drives a TCP socket, misbehaviour included, and can still send any raw frame it likes.
 */

import type { Stream } from "../../lib/transport/transport.ts";
import { writeAll } from "../../lib/util/write.ts";
import { frame, openRaw } from "./websocket.ts";

const LF = 0x0a;

/** A WebSocket whose messages are lines, over a raw socket. */
export class WsLines implements Stream {
  readonly remoteAddr: Deno.Addr;
  #conn: Deno.Conn;
  #pending: Uint8Array;
  /** Whether a message was started and not finished. */
  #open = false;
  #out: Uint8Array[] = [];

  private constructor(conn: Deno.Conn, rest: Uint8Array) {
    this.#conn = conn;
    this.remoteAddr = conn.remoteAddr;
    this.#pending = rest;
  }

  /** Opens a WebSocket to `/ws` on 127.0.0.1:`port`; throws unless the server switches protocols. */
  static async open(port: number): Promise<WsLines> {
    const response = await openRaw(port);
    if (response.status !== 101) {
      response.conn.close();
      throw new Error(`upgrade answered ${response.status}`);
    }
    return new WsLines(response.conn, response.rest);
  }

  /** Writes raw bytes, frames or not. */
  raw(bytes: Uint8Array): Promise<void> {
    return writeAll(this.#conn, bytes);
  }

  async write(p: Uint8Array): Promise<number> {
    const frames: Uint8Array[] = [];
    let start = 0;
    for (let end = p.indexOf(LF); end !== -1; end = p.indexOf(LF, start)) {
      frames.push(frame(this.#open ? 0x0 : 0x1, p.subarray(start, end)));
      this.#open = false;
      start = end + 1;
    }
    if (start < p.length) {
      frames.push(frame(this.#open ? 0x0 : 0x1, p.subarray(start), { fin: false }));
      this.#open = true;
    }
    const total = frames.reduce((n, f) => n + f.length, 0);
    const all = new Uint8Array(total);
    let at = 0;
    for (const f of frames) {
      all.set(f, at);
      at += f.length;
    }
    await writeAll(this.#conn, all);
    return p.length;
  }

  /** Reads the server's text frames as lines; a close frame is the end of the stream. */
  async read(p: Uint8Array): Promise<number | null> {
    while (this.#out.length === 0) {
      const parsed = this.#parse();
      if (parsed === "closed") return null;
      if (parsed) continue;
      const buffer = new Uint8Array(65536);
      const n = await this.#conn.read(buffer);
      if (n === null) return null;
      const joined = new Uint8Array(this.#pending.length + n);
      joined.set(this.#pending);
      joined.set(buffer.subarray(0, n), this.#pending.length);
      this.#pending = joined;
    }
    const chunk = this.#out[0];
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#out.shift();
    else this.#out[0] = chunk.subarray(n);
    return n;
  }

  /** Takes one whole server frame from what was read: whether it did, or `closed`. */
  #parse(): boolean | "closed" {
    const bytes = this.#pending;
    if (bytes.length < 2) return false;
    let length = bytes[1] & 0x7f;
    let start = 2;
    if (length === 126) {
      if (bytes.length < 4) return false;
      length = (bytes[2] << 8) | bytes[3];
      start = 4;
    } else if (length === 127) {
      if (bytes.length < 10) return false;
      length = Number(new DataView(bytes.buffer, bytes.byteOffset + 2, 8).getBigUint64(0));
      start = 10;
    }
    if (bytes.length < start + length) return false;
    const opcode = bytes[0] & 0x0f;
    const payload = bytes.subarray(start, start + length);
    this.#pending = bytes.subarray(start + length);
    if (opcode === 0x8) return "closed";
    if (opcode === 0x1) {
      const line = new Uint8Array(payload.length + 1);
      line.set(payload);
      line[payload.length] = LF;
      this.#out.push(line);
    }
    return true;
  }

  closeWrite(): Promise<void> {
    return this.raw(frame(0x8, Uint8Array.of(0x03, 0xe8)));
  }

  close(): void {
    this.#conn.close();
  }
}
