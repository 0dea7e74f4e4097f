/**
 * The transport seam: what a connection reads from and writes to, and where connections come from.
 *
 * The server core sees only these two interfaces. Deno's own connections (`Deno.TcpConn`,
 * `Deno.TlsConn`, `Deno.UnixConn`) are streams as they are, and Deno's listeners are listeners as
 * they are, so the plain TCP path costs no wrapper at all; a transport that is not a socket (a
 * WebSocket) implements the same two interfaces and enters the same accept -> connection -> mode
 * path. Nothing here knows about lines, modes or limits.
 */

/**
 * Why the server ends a stream, in terms that every transport can map to its own signal (a
 * WebSocket's close code; TCP has none and ignores it).
 */
export interface StreamEnd {
  /**
   * `done`: the conversation is over; `going away`: the server is shutting down; `refused`: the
   * peer was turned away (server full); `violation`: it broke a rule (a limit, its protocol);
   * `error`: the server failed.
   */
  reason: "done" | "going away" | "refused" | "violation" | "error";
  /** What the peer was told last, in a sentence (after `ERR`), if anything. */
  message?: string;
}

/** A connected byte stream to one peer. */
export interface Stream {
  /** The peer's address: a `Deno.NetAddr` for TCP-like transports, a `Deno.UnixAddr` for Unix. */
  readonly remoteAddr: Deno.Addr;
  /** Reads into `p`; resolves with the byte count, or `null` at the end of the stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; resolves with how many bytes were taken. */
  write(p: Uint8Array): Promise<number>;
  /** Closes our direction only, for the reason `end`: the peer sees the end of the stream and may still send. */
  closeWrite(end?: StreamEnd): Promise<void>;
  /**
   * Whether the peer may still read after the end of its stream, as a TCP peer that half-closed
   * may. `false` when the end of the stream ends both directions (a WebSocket's close frame).
   * @default {true}
   */
  readonly halfOpen?: boolean;
  /** Closes both directions, for the reason `end`; a pending read or write ends with `BadResource`. */
  close(end?: StreamEnd): void;
  /**
   * Finishes setting up the stream (the TLS handshake, a WebSocket's HTTP upgrade) before the
   * first byte is read. Rejects with {@linkcode NotAClient} when the peer turned out to be no
   * client, which is no failure (it asked for a web page and got it, or left without a word), and
   * with any other error when the handshake failed. Closing the stream makes it reject.
   */
  handshake?(): Promise<unknown>;
  /** Turns Nagle's algorithm off (TCP): lines are small and interactive. */
  setNoDelay?(noDelay?: boolean): void;
}

/** The peer of a handshake turned out to be no client; the message says what it was instead. */
export class NotAClient extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NotAClient";
  }
}

/** Where connections come from: one listening socket, or anything else that hands out streams. */
export interface Listener {
  /** The address it listens on, with the real port when port 0 was asked for. */
  readonly addr: Deno.Addr;
  /** How its peers are labelled in logs and `/list`: `tcp`, `tls`, `unix`, `ws`... @default {addr.transport} */
  readonly transport?: string;
  /** What its transport is called in messages about it: `TLS`, `WebSocket`. @default {the label} */
  readonly kind?: string;
  /** What else the server says where it tells where it listens: `{ certificate: "SHA256:..." }`. */
  readonly details?: Readonly<Record<string, string>>;
  /** The next connection; rejects with `BadResource` once closed. */
  accept(): Promise<Stream>;
  /** Stops listening; a pending `accept()` rejects. */
  close(): void;
}

/**
 * The peer broke the rules of its transport (a WebSocket client sent a binary frame, or text that
 * is not UTF-8): thrown by `read()`. The message is what the client is told after `ERR`.
 */
export class StreamViolation extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StreamViolation";
  }
}

/** The label of `listener`'s peers. */
export function transportOf(listener: Listener): string {
  return listener.transport ?? listener.addr.transport;
}
