/**
 * A WebSocket as a stream of lines: each text message a client sends reads as one line (its bytes
 * and a `\n`), and each line written goes out as one text frame. So a browser's connection enters
 * the same accept -> connection -> mode path as a TCP one, with the same framer, limits, queue and
 * timeouts; only this file knows it is a WebSocket.
 *
 * The stream is made on a freshly accepted socket (TCP or TLS) before anything is known about it:
 * its `handshake()` runs the socket's own handshake (TLS), then the HTTP exchange it is given
 * (`upgrade`), which either answers a plain HTTP request (the page, a 404: the peer is then no
 * client at all) or switches the socket to WebSocket frames.
 *
 * Frames are decoded as they arrive (`protocol/websocket.ts`), never whole, so `maxLine` bounds
 * what a client can make the server hold. A message over `maxLine` reads as a `LineTooLongError`,
 * as an overlong line does on TCP; binary frames, bad UTF-8 and other breaches of the protocol
 * read as a {@linkcode StreamViolation}. Either way the client gets `ERR ...` as a text frame and
 * a close frame that says why. Writes to the socket (lines, pongs, the close frame) are made one
 * after the other: the connection's output queue is the only writer of lines, and this stream the
 * only writer of its socket.
 */

import { LineTooLongError } from "../protocol/framer.ts";
import {
  CLOSE,
  encodeClose,
  encodeLines,
  encodePong,
  encodeText,
  FrameDecoder,
  FrameError,
} from "../protocol/websocket.ts";
import { writeAll } from "../util/write.ts";
import { closeQuietly } from "../util/close_quietly.ts";
import { NotAClient, type Stream, type StreamEnd, StreamViolation } from "./transport.ts";

const LF = 0x0a;
/** How long a pong may stay unsent while the client sends more pings (as the slow-consumer rule). */
const STALL_MS = 1000;
/** Most bytes read and dropped after the close frame, waiting for the client to close too. */
const DRAIN_LIMIT = 64 * 1024;
/**
 * How much of the socket is read at a time: little while the client is quiet (an idle browser holds
 * one pending read), four times more after each read that filled it, up to the most.
 */
const READ_SIZE = 256;
const MAX_READ_SIZE = 16 * 1024;
/** How long closing may wait for the close frame to leave and the client to close its side. */
const CLOSE_GRACE_MS = 1000;

/** The close code for each reason the server ends a stream. */
const CLOSE_CODES: Record<StreamEnd["reason"], number> = {
  done: CLOSE.normal,
  "going away": CLOSE.goingAway,
  refused: CLOSE.policy,
  violation: CLOSE.policy,
  error: CLOSE.internalError,
};

/**
 * The HTTP exchange that comes before the frames: resolves with the bytes the client sent after
 * its request (frames already), or with `false` when the request was answered and the peer is not
 * a client; rejects when the request is refused.
 */
export type Upgrade = (socket: Stream) => Promise<Uint8Array | false>;

/** Options for {@linkcode WebSocketStream}. */
export interface WebSocketStreamOptions {
  /** Longest message accepted, in bytes. */
  maxLine: number;
  upgrade: Upgrade;
}

/** One WebSocket client, as a stream of lines. */
export class WebSocketStream implements Stream {
  readonly remoteAddr: Deno.Addr;
  /** A client's close frame ends both directions: it reads nothing after it. */
  readonly halfOpen = false;
  #socket: Stream;
  #upgrade: Upgrade;
  #decoder: FrameDecoder;
  #buffer: Uint8Array | undefined;
  /** Text of the current message not yet read, and whether its `\n` is still to come. */
  #text: Uint8Array | undefined;
  #newline = false;
  /** Writes to the socket, one after the other. */
  #writing: Promise<unknown> = Promise.resolve();
  #closed = false;
  #closeSent = false;
  /** The pong being written, if one is owed. */
  #pong: Promise<void> | undefined;
  #silent = true;
  /** Why the server is closing, as the client will be told in the close frame. */
  #closeCode: number = CLOSE.normal;
  #closeReason = "";

  constructor(socket: Stream, options: WebSocketStreamOptions) {
    this.#socket = socket;
    this.remoteAddr = socket.remoteAddr;
    this.#upgrade = options.upgrade;
    this.#decoder = new FrameDecoder(options.maxLine);
  }

  /**
   * The socket's handshake (TLS), then the HTTP exchange. A peer that asked for a page and got it,
   * or that closed (or was closed) before a byte, is {@linkcode NotAClient}: a browser opens spare
   * connections in case a page needs one.
   */
  async handshake(): Promise<void> {
    try {
      await this.#handshake();
    } catch (error) {
      if (this.#silent) throw new NotAClient("closed before a byte", { cause: error });
      throw error;
    }
  }

  async #handshake(): Promise<void> {
    await this.#socket.handshake?.();
    const socket = this.#socket;
    // The HTTP exchange reads through this, so that a client that sends nothing can be told apart.
    const heard: Stream = {
      remoteAddr: socket.remoteAddr,
      read: async (p) => {
        const n = await socket.read(p);
        if (n) this.#silent = false;
        return n;
      },
      write: (p) => socket.write(p),
      closeWrite: () => socket.closeWrite(),
      close: () => socket.close(),
    };
    const rest = await this.#upgrade(heard);
    if (rest === false) throw new NotAClient("asked for a page and got it");
    this.#buffer = new Uint8Array(READ_SIZE);
    if (rest.length > 0) this.#decoder.feed(rest.slice());
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (true) {
      if (this.#text !== undefined) {
        const n = Math.min(p.length, this.#text.length);
        p.set(this.#text.subarray(0, n));
        this.#text = n < this.#text.length ? this.#text.subarray(n) : undefined;
        return n;
      }
      if (this.#newline) {
        this.#newline = false;
        p[0] = LF;
        return 1;
      }
      let event;
      try {
        event = this.#decoder.next();
      } catch (error) {
        if (error instanceof LineTooLongError) this.#setClose(CLOSE.tooBig, error.message);
        if (!(error instanceof FrameError)) throw error;
        this.#setClose(error.code, error.message);
        throw new StreamViolation(error.message, { cause: error });
      }
      if (event === null) {
        const buffer = this.#buffer!;
        const n = await this.#socket.read(buffer);
        if (n === null) return null;
        this.#decoder.feed(buffer.subarray(0, n));
        // The decoder works on this buffer until it is used up; the next read gets a bigger one.
        if (n === buffer.length && n < MAX_READ_SIZE) this.#buffer = new Uint8Array(n * 4);
        continue;
      }
      switch (event.kind) {
        case "text":
          this.#text = event.bytes;
          break;
        case "end":
          this.#newline = true;
          break;
        case "ping":
          await this.#answerPing(event.payload);
          break;
        case "pong":
          break;
        case "close":
          // Both directions are done. The close frame that answers it goes out when the connection
          // closes, after the replies still queued, with the client's own code.
          this.#closeCode = event.code === CLOSE.noStatus ? CLOSE.normal : event.code;
          return null;
      }
    }
  }

  async write(p: Uint8Array): Promise<number> {
    const { frames, taken } = encodeLines(p);
    if (taken === 0) {
      // Not a whole line: the queue only writes whole ones, but a stream takes what it is given.
      await this.#send(encodeText(p));
      return p.length;
    }
    await this.#send(frames);
    return taken;
  }

  /**
   * Answers a ping. At most one pong is owed at a time (RFC 6455 lets a pong answer only the most
   * recent ping): while one is unsent, reading waits for it, so a client that pings without
   * reading is held back by its own socket rather than by the server's memory. One that still has
   * not taken it after {@linkcode STALL_MS} is breaking the protocol's spirit, and is closed.
   */
  async #answerPing(payload: Uint8Array): Promise<void> {
    if (this.#pong !== undefined) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stalled = new Promise<true>((resolve) => timer = setTimeout(resolve, STALL_MS, true));
      const late = await Promise.race([this.#pong, stalled]).finally(() => clearTimeout(timer));
      if (late === true) {
        const message = "it pings faster than it reads the pongs";
        this.#setClose(CLOSE.policy, message);
        throw new StreamViolation(message);
      }
    }
    const pong: Promise<void> = this.#send(encodePong(payload)).then(
      () => {
        if (this.#pong === pong) this.#pong = undefined;
      },
      () => {/* closing; the read will say so */},
    );
    this.#pong = pong;
  }

  /** A WebSocket has no half-close: the close frame ends both directions. */
  async closeWrite(end?: StreamEnd): Promise<void> {
    this.#setEnd(end);
    await this.#sendClose();
  }

  close(end?: StreamEnd): void {
    this.#setEnd(end);
    if (this.#closed) return;
    this.#closed = true;
    if (this.#buffer === undefined) return this.#socket.close();
    // The close frame says why; then what the client still sends is read and dropped until it
    // closes too, so that the socket ends with a FIN, not a reset that could lose the close frame.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise((resolve) => timer = setTimeout(resolve, CLOSE_GRACE_MS));
    const lingered = this.#sendClose().then(() => this.#drain()).catch(() => {/* the socket is gone */});
    Promise.race([lingered, late]).finally(() => {
      clearTimeout(timer);
      closeQuietly(this.#socket);
    });
  }

  /**
   * Reads and drops what the client still sends, until it closes, but no more than
   * {@linkcode DRAIN_LIMIT}: a client still flooding after the close frame gets its socket closed
   * instead, so the drain never outruns the read rounds that keep everyone else served.
   */
  async #drain(): Promise<void> {
    const buffer = this.#buffer!;
    for (let dropped = 0; dropped <= DRAIN_LIMIT;) {
      const n = await this.#socket.read(buffer);
      if (n === null) return;
      dropped += n;
    }
  }

  setNoDelay(noDelay = true): void {
    this.#socket.setNoDelay?.(noDelay);
  }

  /** Why the server ends the stream, as the close frame will say it (unless a reason came first). */
  #setEnd(end: StreamEnd | undefined): void {
    if (end === undefined) return;
    this.#setClose(CLOSE_CODES[end.reason], end.message ?? "");
  }

  #setClose(code: number, reason: string): void {
    if (this.#closeCode === CLOSE.normal) this.#closeCode = code;
    if (this.#closeReason === "") this.#closeReason = reason;
  }

  #sendClose(): Promise<unknown> {
    if (this.#closeSent) return this.#writing;
    this.#closeSent = true;
    return this.#send(encodeClose(this.#closeCode, this.#closeReason));
  }

  /** Writes `bytes` to the socket after everything written before. */
  #send(bytes: Uint8Array): Promise<unknown> {
    const sent = this.#writing.then(() => writeAll(this.#socket, bytes));
    this.#writing = sent.catch(() => {/* the next write finds out for itself */});
    return sent;
  }
}
