/**
 * TCP, both ends: the server's listening socket and the client's connection.
 */

import type { Listener, Stream } from "./transport.ts";

/** Options for {@linkcode listenTcp}. */
export interface TcpListenOptions {
  /** Address to listen on. */
  host: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Connections the kernel may queue before they are accepted. @default {4096} */
  backlog?: number;
  /**
   * Share the port with other listeners that set it too (SO_REUSEPORT): the kernel spreads new
   * connections over them. Linux; needs the unstable `net` feature. @default {false}
   */
  reusePort?: boolean;
}

/**
 * Listens on TCP. A deep backlog lets a storm of connects queue in the kernel instead of being
 * refused.
 */
export function listenTcp(options: TcpListenOptions): Listener {
  const { host, port, backlog = 4096, reusePort = false } = options;
  return Deno.listen({
    hostname: host,
    port,
    transport: "tcp",
    tcpBacklog: backlog,
    ...(reusePort ? { reusePort } : {}),
  });
}

/** Options for {@linkcode connectTcp}. */
export interface TcpConnectOptions {
  host: string;
  port: number;
  /** Give up connecting when it aborts. */
  signal?: AbortSignal;
}

/** Connects over TCP, with Nagle's algorithm off: lines are small and interactive. */
export async function connectTcp(options: TcpConnectOptions): Promise<Stream> {
  const conn = await Deno.connect({ hostname: options.host, port: options.port, signal: options.signal });
  conn.setNoDelay(true);
  return conn;
}
