/**
 * WebSocket frames (RFC 6455), the server's side: a decoder for what browsers send and an encoder
 * for what the server sends back. A text message is one line; binary messages are refused.
 *
 * The decoder is incremental and never holds a message: it checks a frame's header (masked, no
 * reserved bits, a known opcode, a length that keeps the message within the limit) before a byte
 * of its payload is taken, then hands the payload out, unmasked in place, as it arrives. So a
 * client can make the server hold at most one frame header and one control frame (125 bytes),
 * whatever it sends, and a frame announced as too long is refused before it is read. Text is
 * checked to be UTF-8 as it goes.
 *
 * Pure: no I/O.
 */

import { LineTooLongError } from "./framer.ts";
import { Utf8Validator } from "./utf8.ts";

/** The client broke the WebSocket protocol; `code` is the close code that says how. */
export class FrameError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = "FrameError";
  }
}

/** Close codes used here. */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  /** Reported for a close frame with no code; never sent. */
  noStatus: 1005,
  protocolError: 1002,
  unsupportedData: 1003,
  invalidData: 1007,
  policy: 1008,
  tooBig: 1009,
  internalError: 1011,
} as const;

/** Throws on bytes that are not UTF-8, as a close frame's reason must be. */
const strict = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** What the decoder found next. */
export type FrameEvent =
  /** Some text of the current message, unmasked; valid until the next call. */
  | { kind: "text"; bytes: Uint8Array }
  /** The current message is complete. */
  | { kind: "end" }
  | { kind: "ping"; payload: Uint8Array }
  | { kind: "pong" }
  | { kind: "close"; code: number; reason: string };

/** Decodes the frames a client sends into text and control events. */
export class FrameDecoder {
  readonly maxMessage: number;
  #chunk: Uint8Array = new Uint8Array(0);
  #offset = 0;
  /** A header being gathered across chunks. */
  #header = new Uint8Array(14);
  #headerLength = 0;
  /** The frame whose payload is being read. */
  #opcode = 0;
  #fin = false;
  #remaining = 0;
  #mask = new Uint8Array(4);
  #maskOffset = 0;
  #inPayload = false;
  /** A control frame's payload, gathered whole (at most 125 bytes). */
  #control = new Uint8Array(125);
  #controlLength = 0;
  /** Whether a text message has begun and not ended, and its length so far. */
  #inMessage = false;
  #messageLength = 0;
  #utf8 = new Utf8Validator();
  #endPending = false;

  /** Refuses a text message longer than `maxMessage` bytes. */
  constructor(maxMessage: number) {
    this.maxMessage = maxMessage;
  }

  /** Hands over the next chunk; take its events with {@linkcode next} before feeding another. */
  feed(chunk: Uint8Array): void {
    this.#chunk = chunk;
    this.#offset = 0;
  }

  /**
   * The next event, or `null` once the chunk is used up. Throws {@linkcode FrameError} for a
   * protocol violation, and `LineTooLongError` for a message over the limit, as soon as it is
   * announced.
   */
  next(): FrameEvent | null {
    while (true) {
      if (this.#endPending) {
        this.#endPending = false;
        this.#inMessage = false;
        this.#messageLength = 0;
        if (!this.#utf8.end()) throw new FrameError(CLOSE.invalidData, "text that is not UTF-8");
        return { kind: "end" };
      }
      if (!this.#inPayload) {
        if (!this.#readHeader()) return null;
        const started = this.#startFrame();
        if (started !== undefined) return started;
        continue;
      }
      const event = this.#readPayload();
      if (event !== undefined) return event;
      if (this.#offset >= this.#chunk.length && this.#inPayload) return null;
    }
  }

  /** Gathers a header; whether it is complete. */
  #readHeader(): boolean {
    const chunk = this.#chunk;
    while (this.#offset < chunk.length) {
      const need = this.#headerNeeds();
      if (this.#headerLength >= need) break;
      this.#header[this.#headerLength++] = chunk[this.#offset++];
    }
    return this.#headerLength >= 2 && this.#headerLength >= this.#headerNeeds();
  }

  /** How long the header being gathered is, as far as its first two bytes say. */
  #headerNeeds(): number {
    if (this.#headerLength < 2) return 2;
    const len7 = this.#header[1] & 0x7f;
    const extended = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    return 2 + extended + ((this.#header[1] & 0x80) !== 0 ? 4 : 0);
  }

  /** Checks a complete header and sets up its payload; an event when the frame is empty. */
  #startFrame(): FrameEvent | undefined {
    const h = this.#header;
    this.#headerLength = 0;
    const fin = (h[0] & 0x80) !== 0;
    const opcode = h[0] & 0x0f;
    if ((h[0] & 0x70) !== 0) throw new FrameError(CLOSE.protocolError, "reserved bits set");
    if ((h[1] & 0x80) === 0) throw new FrameError(CLOSE.protocolError, "a client's frames must be masked");
    const len7 = h[1] & 0x7f;
    let length = len7;
    let at = 2;
    if (len7 === 126) {
      length = (h[2] << 8) | h[3];
      at = 4;
    } else if (len7 === 127) {
      const high = ((h[2] << 24) >>> 0) + (h[3] << 16) + (h[4] << 8) + h[5];
      const low = ((h[6] << 24) >>> 0) + (h[7] << 16) + (h[8] << 8) + h[9];
      length = high * 2 ** 32 + low;
      at = 10;
    }
    this.#mask.set(h.subarray(at, at + 4));
    this.#maskOffset = 0;
    if (opcode >= OP_CLOSE) {
      if (opcode !== OP_CLOSE && opcode !== OP_PING && opcode !== OP_PONG) {
        throw new FrameError(CLOSE.protocolError, `unknown opcode ${opcode}`);
      }
      if (!fin || length > 125) {
        throw new FrameError(CLOSE.protocolError, "a control frame must be whole and at most 125 bytes");
      }
    } else if (opcode === OP_BINARY) {
      throw new FrameError(CLOSE.unsupportedData, "binary frames are not accepted; send text");
    } else if (opcode === OP_TEXT) {
      if (this.#inMessage) throw new FrameError(CLOSE.protocolError, "a new message inside a fragmented one");
      this.#inMessage = true;
    } else if (opcode === OP_CONTINUATION) {
      if (!this.#inMessage) throw new FrameError(CLOSE.protocolError, "a continuation with no message");
    } else {
      throw new FrameError(CLOSE.protocolError, `unknown opcode ${opcode}`);
    }
    if (opcode < OP_CLOSE) {
      this.#messageLength += length;
      if (this.#messageLength > this.maxMessage) throw new LineTooLongError(this.maxMessage);
    }
    this.#opcode = opcode;
    this.#fin = fin;
    this.#remaining = length;
    this.#controlLength = 0;
    this.#inPayload = true;
    if (length === 0) return this.#finishFrame();
    return undefined;
  }

  /** Takes payload bytes from the chunk; an event when there is one to give. */
  #readPayload(): FrameEvent | undefined {
    const chunk = this.#chunk;
    const take = Math.min(this.#remaining, chunk.length - this.#offset);
    if (take === 0) return undefined;
    const bytes = chunk.subarray(this.#offset, this.#offset + take);
    this.#offset += take;
    this.#remaining -= take;
    const mask = this.#mask;
    let m = this.#maskOffset;
    for (let i = 0; i < bytes.length; i++) {
      bytes[i] ^= mask[m];
      m = (m + 1) & 3;
    }
    this.#maskOffset = m;
    if (this.#opcode >= OP_CLOSE) {
      this.#control.set(bytes, this.#controlLength);
      this.#controlLength += bytes.length;
      return this.#remaining === 0 ? this.#finishFrame() : undefined;
    }
    if (!this.#utf8.push(bytes)) throw new FrameError(CLOSE.invalidData, "text that is not UTF-8");
    if (this.#remaining === 0) {
      this.#inPayload = false;
      if (this.#fin) this.#endPending = true;
    }
    return { kind: "text", bytes };
  }

  /** A frame's payload is all there: the event it makes, if any. */
  #finishFrame(): FrameEvent | undefined {
    this.#inPayload = false;
    const payload = this.#control.subarray(0, this.#controlLength);
    switch (this.#opcode) {
      case OP_PING:
        return { kind: "ping", payload: payload.slice() };
      case OP_PONG:
        return { kind: "pong" };
      case OP_CLOSE:
        return closeEvent(payload);
      default:
        // An empty text or continuation frame.
        if (this.#fin) this.#endPending = true;
        return undefined;
    }
  }
}

/**
 * A client's close frame as RFC 6455 §5.5.1 and §7.4 allow it: empty (no code: 1005, which is only
 * ever reported, never sent), or a code that may be sent and a UTF-8 reason. Anything else is a
 * breach of the protocol, answered with 1002.
 */
function closeEvent(payload: Uint8Array): FrameEvent {
  if (payload.length === 0) return { kind: "close", code: CLOSE.noStatus, reason: "" };
  if (payload.length === 1) throw new FrameError(CLOSE.protocolError, "a close frame with a 1-byte payload");
  const code = (payload[0] << 8) | payload[1];
  if (!mayBeSent(code)) throw new FrameError(CLOSE.protocolError, `close code ${code} may not be sent`);
  let reason: string;
  try {
    reason = strict.decode(payload.subarray(2));
  } catch {
    throw new FrameError(CLOSE.protocolError, "a close reason that is not UTF-8");
  }
  return { kind: "close", code, reason };
}

/**
 * Whether a close frame may carry `code`: the codes RFC 6455 and IANA's registry define for use on
 * the wire (1000-1003, 1007-1014), and those left to libraries and applications (3000-4999). 1005,
 * 1006 and 1015 are reserved for reporting a close that carried no code or never happened.
 */
export function mayBeSent(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

const LF = 0x0a;

/**
 * The lines of `chunk` (each ending in `\n`) as text frames, one per line, in one buffer; and how
 * many bytes of `chunk` they took (a last line without its `\n` waits). Two passes, one
 * allocation: this runs for every write to every browser.
 */
export function encodeLines(chunk: Uint8Array): { frames: Uint8Array; taken: number } {
  let size = 0;
  let taken = 0;
  for (let end = chunk.indexOf(LF); end !== -1; end = chunk.indexOf(LF, taken)) {
    const length = end - taken;
    size += headerLength(length) + length;
    taken = end + 1;
  }
  const frames = new Uint8Array(size);
  let offset = 0;
  for (let start = 0; start < taken;) {
    const end = chunk.indexOf(LF, start);
    const length = end - start;
    offset = writeHeader(frames, offset, OP_TEXT, length);
    frames.set(chunk.subarray(start, end), offset);
    offset += length;
    start = end + 1;
  }
  return { frames, taken };
}

/** The size of a server frame's header for a payload of `length` bytes. */
function headerLength(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/** Writes a server frame's header into `out` at `offset`; returns where the payload goes. */
function writeHeader(out: Uint8Array, offset: number, opcode: number, length: number): number {
  out[offset] = 0x80 | opcode;
  if (length < 126) {
    out[offset + 1] = length;
    return offset + 2;
  }
  if (length < 65536) {
    out[offset + 1] = 126;
    out[offset + 2] = length >> 8;
    out[offset + 3] = length & 0xff;
    return offset + 4;
  }
  out[offset + 1] = 127;
  new DataView(out.buffer, out.byteOffset + offset + 2, 8).setBigUint64(0, BigInt(length));
  return offset + 10;
}

/** One text frame carrying `text` as it is. */
export function encodeText(text: Uint8Array): Uint8Array {
  return encodeFrame(OP_TEXT, text);
}

/** A pong answering a ping with `payload`. */
export function encodePong(payload: Uint8Array): Uint8Array {
  return encodeFrame(OP_PONG, payload);
}

function encodeFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(headerLength(payload.length) + payload.length);
  out.set(payload, writeHeader(out, 0, opcode, payload.length));
  return out;
}

/** A close frame with `code` and a `reason` (cut to the 123 bytes a close frame allows). */
export function encodeClose(code: number, reason = ""): Uint8Array {
  let bytes = encoder.encode(reason);
  if (bytes.length > 123) {
    // Cut on a character boundary: a continuation byte is 10xxxxxx.
    let end = 123;
    while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
    bytes = bytes.subarray(0, end);
  }
  const out = new Uint8Array(4 + bytes.length);
  out.set([0x80 | OP_CLOSE, 2 + bytes.length, code >> 8, code & 0xff]);
  out.set(bytes, 4);
  return out;
}
