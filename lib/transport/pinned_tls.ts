/**
 * A TLS client that trusts one certificate by its fingerprint, the way ssh trusts a host key: for
 * a server whose certificate nobody vouches for (Parley's automatic one, any self-signed one).
 *
 * `Deno.connectTls` cannot show the certificate a server presents, so this side uses `node:tls`
 * with the usual verification turned off, compares the SHA-256 fingerprint on `secureConnect`,
 * and only then hands the socket over: on a mismatch the connection is destroyed before a single
 * byte of ours is written. The node socket is adapted to the {@linkcode Stream} seam, with
 * back-pressure both ways (a full read buffer pauses the socket; a write resolves once flushed).
 */

import tls from "node:tls";
import { formatFingerprint, normalizeFingerprint, parseFingerprint } from "./certificate.ts";
import type { Stream } from "./transport.ts";

/** The certificate the server presented is not the one pinned. */
export class FingerprintMismatchError extends Error {
  constructor(readonly expected: string, readonly presented: string) {
    super(`the server's certificate is ${presented}, not the pinned ${expected}`);
    this.name = "FingerprintMismatchError";
  }
}

/** Options for {@linkcode connectPinned}. */
export interface PinnedConnectOptions {
  host: string;
  port: number;
  /** Any form {@linkcode normalizeFingerprint} accepts; omit to learn the fingerprint only. */
  fingerprint?: string;
}

/** What the server presented, and the stream if it was the pinned certificate. */
export interface PinnedConnection {
  /** `SHA256:AB:CD:...` */
  presented: string;
  stream: Stream;
}

/**
 * Connects over TLS and checks the certificate's fingerprint before anything is sent. Rejects with
 * {@linkcode FingerprintMismatchError} (the socket destroyed, nothing written) on a mismatch, and
 * with a `TypeError` before connecting when the fingerprint is malformed.
 */
export function connectPinned(options: PinnedConnectOptions): Promise<PinnedConnection> {
  let expected: string | undefined;
  try {
    expected = options.fingerprint === undefined ? undefined : parseFingerprint(options.fingerprint);
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: options.host,
      port: options.port,
      servername: /^[\d.]+$|:/.test(options.host) ? undefined : options.host,
      rejectUnauthorized: false,
    });
    socket.once("error", reject);
    socket.once("secureConnect", () => {
      socket.off("error", reject);
      const presented = normalizeFingerprint(socket.getPeerCertificate().fingerprint256 ?? "") ?? "";
      if (expected !== undefined && presented !== expected) {
        socket.destroy();
        reject(new FingerprintMismatchError(formatFingerprint(expected), formatFingerprint(presented)));
        return;
      }
      socket.setNoDelay(true);
      resolve({ presented: formatFingerprint(presented), stream: new NodeSocketStream(socket) });
    });
  });
}

/** Bytes read ahead of the reader before the socket is paused. */
const READ_AHEAD = 64 * 1024;

/** A node socket as a {@linkcode Stream}. */
class NodeSocketStream implements Stream {
  readonly remoteAddr: Deno.NetAddr;
  #socket: tls.TLSSocket;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(socket: tls.TLSSocket) {
    this.#socket = socket;
    this.remoteAddr = {
      transport: "tcp",
      hostname: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
    };
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered > READ_AHEAD) socket.pause();
      this.#signal();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#signal();
    });
    socket.on("error", (error: Error) => {
      this.#error = error;
      this.#signal();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#signal();
    });
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const chunk = this.#chunks[0];
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    this.#buffered -= n;
    if (this.#buffered <= READ_AHEAD / 2 && this.#socket.isPaused()) this.#socket.resume();
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.#error !== undefined) return reject(this.#error);
      // Copied: the caller may reuse its buffer once we resolve, and node may still hold it.
      this.#socket.write(p.slice(), (error?: Error | null) => error ? reject(error) : resolve(p.length));
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(resolve));
  }

  close(): void {
    this.#socket.destroy();
  }

  #signal(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
