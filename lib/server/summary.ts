/**
 * What a server did and what it has now, however it runs (one accept loop, or a pool of workers):
 * the summary logged when it finishes, and the numbers `/metrics` reads off it.
 */

import { count } from "../util/plural.ts";
import type { ServerMetrics, ServerNumbers } from "./metrics.ts";

/** What a server did, reported when it has finished. */
export interface ServeSummary {
  connections: number;
  linesIn: number;
  linesOut: number;
  /** Connections closed at the door by the access list. */
  denied: number;
  /** Connections whose handshake (TLS, WebSocket) failed or timed out. */
  failedHandshakes: number;
}

/** A summary of nothing yet. */
export function emptySummary(): ServeSummary {
  return { connections: 0, linesIn: 0, linesOut: 0, denied: 0, failedHandshakes: 0 };
}

/** `total` plus `more`, field by field. */
export function addSummary(total: ServeSummary, more: ServeSummary): ServeSummary {
  for (const key of Object.keys(total) as (keyof ServeSummary)[]) total[key] += more[key];
  return total;
}

/** `served 3 connections, 12 lines in, 14 lines out; 2 denied`, as the log says it. */
export function describeSummary(summary: ServeSummary): string {
  const { connections, linesIn, linesOut, denied, failedHandshakes } = summary;
  const turnedAway = [
    ...(denied > 0 ? [`${denied} denied`] : []),
    ...(failedHandshakes > 0 ? [count(failedHandshakes, "failed handshake")] : []),
  ];
  return `served ${count(connections, "connection")}, ${count(linesIn, "line")} in, ${
    count(linesOut, "line")
  } out` +
    (turnedAway.length > 0 ? `; ${turnedAway.join(", ")}` : "");
}

/** A server's numbers now, and whether it takes new clients. */
export interface ServerStats extends ServerNumbers {
  /** Clients open, and the most at once (`--max-conns`). */
  clients: number;
  maxConns: number;
  /** Whether it is shutting down. */
  draining: boolean;
}

/** A server's numbers before anything is added up: no connection, nothing queued. */
export function emptyStats(
  metrics: ServerMetrics,
  mode: string,
  maxConns: number,
  draining: boolean,
): ServerStats {
  return {
    metrics,
    mode,
    open: [],
    liveLinesIn: 0,
    liveLinesOut: 0,
    liveBytesIn: 0,
    liveBytesOut: 0,
    queueMaxBytes: 0,
    queueBytes: 0,
    clients: 0,
    maxConns,
    draining,
  };
}
