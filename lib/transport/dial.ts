/**
 * The client's side of every transport: one call that connects as the options say (a Unix
 * socket, TLS pinned to a fingerprint, TLS verified against the roots and the given CAs, or TCP),
 * under a deadline. What the errors mean to a person is the caller's to say.
 */

import { connectPinned } from "./pinned_tls.ts";
import { connectTcp } from "./tcp.ts";
import { connectTls } from "./tls.ts";
import type { Stream } from "./transport.ts";
import { connectUnix } from "./unix.ts";

/** Where and how to connect. */
export interface DialOptions {
  host: string;
  port: number;
  /** A Unix socket's path: TCP is not used then. */
  unix?: string;
  /** TLS that trusts only the certificate with this fingerprint. */
  fingerprint?: string;
  /** TLS, verified against the root certificates and `caCerts`. */
  tls?: boolean;
  /** More certificates (PEM) to trust, for `tls`. */
  caCerts?: string[];
  /** Give up after this long; 0 for as long as the system tries. */
  timeoutMs: number;
}

/** Connects as `options` say; rejects with the transport's error, or `TimedOut`. */
export async function dial(options: DialOptions): Promise<Stream> {
  const { host, port, unix, fingerprint, timeoutMs: ms } = options;
  if (unix !== undefined) return await timed(connectUnix(unix), ms);
  if (fingerprint !== undefined) {
    return await timed(connectPinned({ host, port, fingerprint }).then((c) => c.stream), ms);
  }
  if (options.tls) return await timed(connectTls({ host, port, caCerts: options.caCerts }), ms);
  return await connectTcp({ host, port, signal: ms > 0 ? AbortSignal.timeout(ms) : undefined });
}

/** Resolves like `connecting`, or rejects with `TimedOut` after `ms` (closing a late stream). */
function timed(connecting: Promise<Stream>, ms: number): Promise<Stream> {
  if (ms <= 0) return connecting;
  return new Promise((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new Deno.errors.TimedOut("timed out"));
    }, ms);
    connecting.then((stream) => {
      clearTimeout(timer);
      if (late) stream.close();
      else resolve(stream);
    }, (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
