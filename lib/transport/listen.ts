/**
 * Where a server listens, as plain data (so that it can be posted to a worker), and the one
 * function that opens it: TCP, TLS over TCP, or a Unix socket.
 */

import { listenTcp, type TcpListenOptions } from "./tcp.ts";
import { listenTls, type TlsListenOptions } from "./tls.ts";
import type { Listener } from "./transport.ts";
import { listenUnix, type UnixListenOptions } from "./unix.ts";

/** A listening address of any transport. */
export type ListenSpec =
  | ({ transport: "tcp" } & TcpListenOptions)
  | ({ transport: "tls" } & TlsListenOptions)
  | ({ transport: "unix" } & UnixListenOptions);

/** Opens the listener that `spec` describes. */
export async function listen(spec: ListenSpec): Promise<Listener> {
  switch (spec.transport) {
    case "tcp":
      return listenTcp(spec);
    case "tls":
      return listenTls(spec);
    case "unix":
      return await listenUnix(spec);
  }
}
