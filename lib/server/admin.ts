/**
 * The operator's endpoint (`--admin [HOST:]PORT`), for a load balancer and Prometheus:
 *
 * - `GET /healthz`: 200 while the process serves.
 * - `GET /readyz`: 200 when it takes new clients; 503 with the reason in one line while it drains
 *   at shutdown, while it is at `--max-conns`, and (with `--ready-needs-redis`) while its link to
 *   Redis is down.
 * - `GET /metrics`: the Prometheus text format ({@linkcode renderMetrics}).
 *
 * It listens on loopback unless a host is given, and the server's `--allow`/`--deny` apply to it
 * as to clients. Every other path is 404, every other method 405.
 */

import type { AccessList } from "./access_list.ts";
import type { Logger } from "../log.ts";
import type { LinkHealth } from "../backend.ts";
import { type Histogram, renderMetrics, sampleLoopLag } from "./metrics.ts";
import type { ServerStats } from "./serve.ts";
import { formatAddress } from "../util/net.ts";

/** Options for {@linkcode serveAdmin}. */
export interface AdminOptions {
  hostname: string;
  port: number;
  /** The server's numbers now (a pool of workers asks each of them). */
  stats: () => ServerStats | Promise<ServerStats>;
  /** Where to record the event loop's lag; a pool of workers records it in each worker instead. */
  loopLag?: Histogram;
  /** With `--redis`: the link's state now. */
  link?: () => LinkHealth | undefined;
  /** `/readyz` is 503 while the link to Redis is down. */
  readyNeedsRedis?: boolean;
  /** Who may ask now (the server's list, as reloaded); everyone by default. */
  access?: () => AccessList;
  logger: Logger;
  /** Aborting it closes the endpoint. */
  signal: AbortSignal;
}

/** Why the server does not take new clients now, or `undefined` when it does. */
export function notReady(
  stats: ServerStats,
  link: LinkHealth | undefined,
  needsRedis: boolean,
): string | undefined {
  if (stats.draining) return "draining: the server is shutting down";
  if (stats.clients >= stats.maxConns) return `full: ${stats.clients} of ${stats.maxConns} connections`;
  if (needsRedis && link !== undefined && !link.up) return "the link to Redis is down";
  return undefined;
}

const TEXT = { "content-type": "text/plain; charset=utf-8" };
const METRICS = { "content-type": "text/plain; version=0.0.4; charset=utf-8" };

/** Serves the admin endpoint; resolves with its address once it listens. */
export function serveAdmin(options: AdminOptions): Promise<Deno.NetAddr> {
  const { stats, link, readyNeedsRedis = false, access, logger, signal } = options;
  if (options.loopLag !== undefined) sampleLoopLag(options.loopLag, signal);
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    signal,
    onListen: (addr) => listening.resolve(addr as Deno.NetAddr),
    onError: (error) => {
      logger.warn("admin_error", `admin request failed: ${error}`, { error: String(error) });
      return new Response("internal error\n", { status: 500, headers: TEXT });
    },
  }, async (request, info) => {
    const ip = info.remoteAddr.transport === "tcp" ? info.remoteAddr.hostname : undefined;
    if (access?.().refuses(ip) !== undefined) {
      return new Response("forbidden\n", { status: 403, headers: TEXT });
    }
    const path = new URL(request.url).pathname;
    if (!["/healthz", "/readyz", "/metrics"].includes(path)) {
      return new Response("not found: try /healthz, /readyz or /metrics\n", { status: 404, headers: TEXT });
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { ...TEXT, allow: "GET, HEAD" } });
    }
    if (path === "/healthz") return new Response("ok\n", { headers: TEXT });
    const now = await stats();
    const health = link?.();
    const why = notReady(now, health, readyNeedsRedis);
    if (path === "/readyz") {
      return why === undefined
        ? new Response("ready\n", { headers: TEXT })
        : new Response(`${why}\n`, { status: 503, headers: TEXT });
    }
    return new Response(
      renderMetrics({
        ...now,
        roomMembers: now.mode === "chat" ? now.clients : 0,
        redis: health,
        rssBytes: Deno.memoryUsage().rss,
        ready: why === undefined,
      }),
      { headers: METRICS },
    );
  });
  server.finished.catch(() => {/* closed with the server */});
  return listening.promise.then((addr) => {
    logger.info(
      "admin",
      `admin endpoint on http://${formatAddress(addr.hostname, addr.port)} (/healthz, /readyz, /metrics)`,
      {
        host: addr.hostname,
        port: addr.port,
      },
    );
    return addr;
  });
}
