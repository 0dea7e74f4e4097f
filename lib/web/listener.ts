/**
 * `--web`: a listener on its own port whose peers are browsers. Each connection it accepts is a
 * `WebSocketStream` whose handshake is the site's HTTP exchange, so a page request is answered and
 * closed, and a WebSocket becomes a client like any TCP one: the server applies its access list,
 * limits, timeouts and mode to it without knowing the difference. With TLS, the page is HTTPS and
 * the WebSocket WSS, with the server's certificate.
 */

import { listenTcp, type TcpListenOptions } from "../transport/tcp.ts";
import { holdsCertificate, listenTls, type TlsIdentity } from "../transport/tls.ts";
import type { Listener } from "../transport/transport.ts";
import { WebSocketStream } from "../transport/websocket.ts";
import { formatAddress } from "../util/net.ts";
import { createSite } from "./site.ts";

/** Where and how a web listener listens: plain data, so that it can be posted to a worker. */
export interface WebListenOptions extends TcpListenOptions {
  /** Serve HTTPS and WSS with this certificate. */
  tls?: { cert: string; key: string; fingerprint: string };
  /** Longest message accepted from a browser, in bytes (`--max-line`). */
  maxLine: number;
  /** More origins whose pages may connect (`--web-origin`). */
  origins: string[];
  /** More names browsers may reach the server by (`--web-host`). */
  hosts?: string[];
}

/** The web listener could not listen; `cause` says why. */
export class WebListenError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "WebListenError";
  }
}

/**
 * Listens for browsers: the page at `/`, WebSockets at `/ws`. Rejects with a
 * {@linkcode WebListenError} when it cannot listen.
 */
export async function listenWeb(options: WebListenOptions): Promise<Listener> {
  const { tls, maxLine } = options;
  const site = await createSite({
    secure: tls !== undefined,
    host: options.host,
    origins: options.origins,
    hosts: options.hosts,
  });
  let inner: Listener;
  try {
    inner = tls === undefined ? listenTcp(options) : listenTls({ ...options, ...tls });
  } catch (error) {
    throw new WebListenError(error);
  }
  const { port } = inner.addr as Deno.NetAddr;
  const page = `${tls === undefined ? "http" : "https"}://${formatAddress(shownHost(options.host), port)}/`;
  // With TLS, the page and the WebSockets change certificate with the server's (SIGHUP).
  const holder = holdsCertificate(inner) ? inner : undefined;
  return {
    addr: inner.addr,
    transport: tls === undefined ? "ws" : "wss",
    kind: "WebSocket",
    get details() {
      return { page, ...inner.details };
    },
    accept: async () => new WebSocketStream(await inner.accept(), { maxLine, upgrade: site.answer }),
    close: () => inner.close(),
    ...(holder === undefined ? {} : { prepare: (identity: TlsIdentity) => holder.prepare(identity) }),
  };
}

/** The host a person types for an address: a wildcard address is this machine, `localhost`. */
function shownHost(host: string): string {
  return host === "0.0.0.0" || host === "::" ? "localhost" : host;
}
