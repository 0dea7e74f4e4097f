/**
 * The web side of the listener: what a browser's first request gets. `GET /` is the page (one
 * self-contained response, embedded in the program); `GET /ws` becomes a WebSocket if its
 * `Origin` may talk to this server; anything else is a 404 or a refusal with the status that says
 * why. It is the `Upgrade` of each `WebSocketStream` the listener makes.
 *
 * The `Origin` check stops cross-site WebSocket hijacking, where a page on another site opens a
 * WebSocket to this server in a visitor's browser: a browser's request is accepted from this
 * server's own page (same origin) or from an origin named with `--web-origin`. A request with no
 * `Origin` is not from a browser and is accepted (a non-browser client can say any origin it
 * likes). Same-origin means the `Origin` matches the `Host`, so the `Host` itself must name this
 * server (`host.ts`): a page whose name an attacker points at this server's address (DNS
 * rebinding) makes the two agree, and gets 421 for its `Host`.
 */

import type { Stream } from "../transport/transport.ts";
import { hostChecker } from "./host.ts";
import { HttpError, readRequestHead, writeResponse } from "./http.ts";
import { normalizeOrigin } from "./origin.ts";
import page from "./page.html" with { type: "text" };

/** The WebSocket GUID of RFC 6455, which the accept key is hashed with. */
const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Options for {@linkcode createSite}. */
export interface SiteOptions {
  /** Served over TLS: the page is `https://`, its own origin too. */
  secure: boolean;
  /** The address listened on: which `Host` names this server follows from it. */
  host: string;
  /** More origins whose pages may connect (`https://chat.example.com`), or `*` for any. */
  origins: readonly string[];
  /** More names browsers may reach the server by (`--web-host`). */
  hosts?: readonly string[];
}

/** The HTTP side of one web listener. */
export interface Site {
  /** Answers one request on `socket`: the bytes after it when it became a WebSocket, else `false`. */
  answer(socket: Stream): Promise<Uint8Array | false>;
}

/** The page's headers: no caching, no sniffing, and a policy that lets only the page's own script run. */
async function pageHeaders(): Promise<Record<string, string>> {
  const script = /<script>([\s\S]*?)<\/script>/.exec(page)![1];
  const style = /<style>([\s\S]*?)<\/style>/.exec(page)![1];
  const hash = async (text: string) => {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    return `'sha256-${btoa(String.fromCharCode(...new Uint8Array(digest)))}'`;
  };
  return {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": [
      "default-src 'none'",
      `script-src ${await hash(script)}`,
      `style-src ${await hash(style)}`,
      "connect-src 'self'",
      "img-src data:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join("; "),
  };
}

/** The site of a web listener. */
export async function createSite(options: SiteOptions): Promise<Site> {
  const headers = await pageHeaders();
  const pageBytes = new TextEncoder().encode(page);
  const origins = new Set(options.origins.map((origin) => normalizeOrigin(origin) ?? origin));
  const scheme = options.secure ? "https" : "http";
  const misdirected = hostChecker({
    listen: options.host,
    names: options.hosts ?? [],
    origins: options.origins,
  });

  /** Why `origin` may not connect, or `undefined` when it may. */
  function refusal(origin: string | undefined, host: string | undefined): string | undefined {
    if (origin === undefined || origins.has("*") || origins.has(origin.toLowerCase())) return undefined;
    if (host !== undefined && origin.toLowerCase() === `${scheme}://${host.toLowerCase()}`) return undefined;
    return `origin ${origin} may not connect (this server's own pages may; add others with --web-origin)`;
  }

  return {
    async answer(socket) {
      let request;
      try {
        request = await readRequestHead(socket);
      } catch (error) {
        if (error instanceof HttpError) {
          await writeResponse(socket, error.status, plain, `${error.message}\n`).catch(() => {});
        }
        throw error;
      }
      if (request === null) return false; // closed before a byte: no client, and nothing to answer
      const { method, target, headers: asked } = request.head;
      const path = target.split("?")[0];
      if (path === "/ws") {
        if (asked.get("upgrade")?.toLowerCase() !== "websocket") {
          await writeResponse(
            socket,
            426,
            { ...plain, Upgrade: "websocket" },
            "this address takes WebSockets\n",
          );
          return false;
        }
        const key = asked.get("sec-websocket-key") ?? "";
        const problem = method !== "GET"
          ? [405, `a WebSocket opens with GET, not ${method}`] as const
          : asked.get("sec-websocket-version") !== "13"
          ? [426, "WebSocket version 13 only"] as const
          : !/^[A-Za-z0-9+/]{22}==$/.test(key)
          ? [400, "a missing or malformed Sec-WebSocket-Key"] as const
          : undefined;
        const refused = problem ?? (() => {
          const wrongHost = misdirected(asked.get("host"));
          if (wrongHost !== undefined) return [421, wrongHost] as const;
          const why = refusal(asked.get("origin"), asked.get("host"));
          return why === undefined ? undefined : [403, why] as const;
        })();
        if (refused !== undefined) {
          const [status, why] = refused;
          const extra: Record<string, string> = status === 426 ? { "Sec-WebSocket-Version": "13" } : {};
          await writeResponse(socket, status, { ...plain, ...extra }, `${why}\n`).catch(() => {});
          throw new HttpError(status, why);
        }
        await writeResponse(socket, 101, {
          Upgrade: "websocket",
          Connection: "Upgrade",
          "Sec-WebSocket-Accept": await acceptKey(key),
        });
        return request.rest;
      }
      if (path === "/" || path === "/index.html") {
        if (method === "GET") await writeResponse(socket, 200, headers, pageBytes);
        else if (method === "HEAD") {
          await writeResponse(socket, 200, {
            ...headers,
            "Content-Length": String(pageBytes.length),
            Connection: "close",
          });
        } else {
          await writeResponse(socket, 405, { ...plain, Allow: "GET, HEAD" }, "GET or HEAD only\n");
        }
        return false;
      }
      await writeResponse(socket, 404, plain, "not found; the page is at /\n");
      return false;
    },
  };
}

const plain = { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" };

/** `Sec-WebSocket-Accept` for `key`. */
async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + WEBSOCKET_GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}
