/**
 * What a server counts for its operator: plain numbers bumped where things happen (accepts,
 * refusals, closes, throttles), a histogram of the event loop's lag, and the Prometheus text
 * format that `/metrics` serves them in (names under `parley_`, `_total` counters, base units:
 * seconds and bytes), valid under `promtool check metrics`.
 *
 * Counting costs an integer increment; everything that can be read off the live connections
 * (how many are open, how much waits in their queues) is read at scrape time instead, so that the
 * hot paths carry nothing for a scrape that may never come.
 */

import type { LinkHealth } from "../backend.ts";

/** Counts by one label's value. */
export class Tally {
  #counts = new Map<string, number>();

  add(label: string, by = 1): void {
    this.#counts.set(label, (this.#counts.get(label) ?? 0) + by);
  }

  get(label: string): number {
    return this.#counts.get(label) ?? 0;
  }

  entries(): [string, number][] {
    return [...this.#counts].sort(([a], [b]) => a.localeCompare(b));
  }

  /** Adds every count of `entries` (another tally's) to this one. */
  merge(entries: [string, number][]): void {
    for (const [label, n] of entries) this.add(label, n);
  }
}

/** A Prometheus histogram: cumulative buckets by upper bound, a sum and a count. */
export class Histogram {
  readonly bounds: readonly number[];
  #counts: number[];
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.#counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (value <= this.bounds[i]) this.#counts[i]++;
  }

  /** Observations at most each bound, in the order of the bounds. */
  get cumulative(): readonly number[] {
    return this.#counts;
  }

  /** Adds another histogram's observations (same bounds) to this one. */
  merge(other: { cumulative: readonly number[]; sum: number; count: number }): void {
    other.cumulative.forEach((n, i) => this.#counts[i] += n);
    this.sum += other.sum;
    this.count += other.count;
  }
}

/** What a server counts as it goes. */
export class ServerMetrics {
  /** Connections let in (after the access list, the limits and any handshake). */
  accepted = 0;
  /** Connections turned away, by reason. */
  readonly refused = new Tally();
  /** Connections closed, by close reason. */
  readonly closed = new Tally();
  /** Lines and bytes of connections that have closed; the open ones are added at scrape time. */
  linesIn = 0;
  linesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Clients whose reading was held because they did not read their replies. */
  throttled = 0;
  /** Clients whose lines waited for their turn because they sent faster than `--rate`. */
  rateLimited = 0;
  /** How late the event loop ran a timer, in seconds. */
  readonly loopLag = new Histogram([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]);

  /** These counts as plain data, to post to another isolate. */
  plain(): PlainMetrics {
    const { accepted, linesIn, linesOut, bytesIn, bytesOut, throttled, rateLimited, loopLag } = this;
    return {
      accepted,
      refused: this.refused.entries(),
      closed: this.closed.entries(),
      linesIn,
      linesOut,
      bytesIn,
      bytesOut,
      throttled,
      rateLimited,
      loopLag: { cumulative: [...loopLag.cumulative], sum: loopLag.sum, count: loopLag.count },
    };
  }

  /** Adds the counts of another server (a worker's, as {@linkcode plain} gave them). */
  merge(other: PlainMetrics): void {
    this.accepted += other.accepted;
    this.refused.merge(other.refused);
    this.closed.merge(other.closed);
    this.linesIn += other.linesIn;
    this.linesOut += other.linesOut;
    this.bytesIn += other.bytesIn;
    this.bytesOut += other.bytesOut;
    this.throttled += other.throttled;
    this.rateLimited += other.rateLimited;
    this.loopLag.merge(other.loopLag);
  }
}

/** {@linkcode ServerMetrics} as plain data. */
export interface PlainMetrics {
  accepted: number;
  refused: [string, number][];
  closed: [string, number][];
  linesIn: number;
  linesOut: number;
  bytesIn: number;
  bytesOut: number;
  throttled: number;
  rateLimited: number;
  loopLag: { cumulative: number[]; sum: number; count: number };
}

/** Measures the event loop's lag every `everyMs`, until the signal aborts. */
export function sampleLoopLag(into: Histogram, signal: AbortSignal, everyMs = 100): void {
  let expected = performance.now() + everyMs;
  const timer = setInterval(() => {
    const now = performance.now();
    into.observe(Math.max(0, now - expected) / 1000);
    expected = now + everyMs;
  }, everyMs);
  Deno.unrefTimer(timer);
  signal.addEventListener("abort", () => clearInterval(timer), { once: true });
}

/** A server's counters, and what was read off its connections at one moment. */
export interface ServerNumbers {
  metrics: ServerMetrics;
  /** The server's mode. */
  mode: string;
  /** Open connections, by transport (`tcp`, `tls`, `ws`, `unix`). */
  open: [string, number][];
  /** Lines and bytes of the open connections so far. */
  liveLinesIn: number;
  liveLinesOut: number;
  liveBytesIn: number;
  liveBytesOut: number;
  /** Bytes waiting in the output queues: the most in one, and in all. */
  queueMaxBytes: number;
  queueBytes: number;
  /** With `--workers`: each worker's open connections, by its number (1-based). */
  workers?: [number, number][];
}

/** The numbers of one scrape: the server's, and the room's, the link's and the process's. */
export interface MetricsSnapshot extends ServerNumbers {
  /** Members of the chat room (0 in other modes). */
  roomMembers: number;
  /** With `--redis`: the link's state. */
  redis?: LinkHealth;
  /** The process's resident memory. */
  rssBytes: number;
  /** Whether the server accepts new clients. */
  ready: boolean;
}

/** `snapshot` for a person: what console mode's `/stats` prints. */
export function describeMetrics(snapshot: MetricsSnapshot): string {
  const m = snapshot.metrics;
  const kib = (bytes: number) => bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`;
  const list = (entries: [string, number][]) =>
    entries.length === 0 ? "none" : entries.map(([what, n]) => `${what} ${n}`).join(", ");
  const open = snapshot.open.reduce((sum, [, n]) => sum + n, 0);
  return [
    `clients   ${open} open (${list(snapshot.open)}); ${m.accepted} accepted; refused: ${
      list(m.refused.entries())
    }`,
    `lines     ${m.linesIn + snapshot.liveLinesIn} in, ${m.linesOut + snapshot.liveLinesOut} out; ` +
    `${kib(m.bytesIn + snapshot.liveBytesIn)} in, ${kib(m.bytesOut + snapshot.liveBytesOut)} out`,
    `queues    ${kib(snapshot.queueBytes)} waiting, ${
      kib(snapshot.queueMaxBytes)
    } for the client most behind; ` +
    `${m.throttled} throttled, ${m.rateLimited} over --rate`,
    `closed    ${list(m.closed.entries())}`,
    `memory    ${(snapshot.rssBytes / 2 ** 20).toFixed(0)} MiB resident`,
  ].join("\n");
}

/** Escapes a label value as the text format wants it. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** `snapshot` in the Prometheus text exposition format (version 0.0.4). */
export function renderMetrics(snapshot: MetricsSnapshot): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string, samples: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) out.push(`${name}${labels} ${value}`);
  };
  /** A family of one sample, without labels. */
  const one = (name: string, type: string, help: string, value: number) =>
    family(name, type, help, [["", value]]);
  /** A counter with one sample per reason. */
  const byReason = (name: string, help: string, tally: Tally) =>
    family(name, "counter", help, tally.entries().map(([reason, n]) => [`{reason="${label(reason)}"}`, n]));
  const m = snapshot.metrics;
  const mode = `mode="${label(snapshot.mode)}"`;
  family(
    "parley_connections_open",
    "gauge",
    "Client connections open now, by transport.",
    snapshot.open.map(([transport, n]) => [`{transport="${label(transport)}",${mode}}`, n]),
  );
  one("parley_connections_accepted_total", "counter", "Client connections let in.", m.accepted);
  byReason(
    "parley_connections_refused_total",
    "Connections turned away before being served, by reason.",
    m.refused,
  );
  byReason("parley_connections_closed_total", "Client connections closed, by reason.", m.closed);
  one(
    "parley_lines_received_total",
    "counter",
    "Lines received from clients.",
    m.linesIn + snapshot.liveLinesIn,
  );
  one("parley_lines_sent_total", "counter", "Lines queued to clients.", m.linesOut + snapshot.liveLinesOut);
  one("parley_received_bytes_total", "counter", "Bytes read from clients.", m.bytesIn + snapshot.liveBytesIn);
  one("parley_sent_bytes_total", "counter", "Bytes written to clients.", m.bytesOut + snapshot.liveBytesOut);
  one(
    "parley_output_queue_max_bytes",
    "gauge",
    "Bytes waiting for the client most behind.",
    snapshot.queueMaxBytes,
  );
  one("parley_output_queue_bytes", "gauge", "Bytes waiting for all clients together.", snapshot.queueBytes);
  one(
    "parley_throttled_total",
    "counter",
    "Clients whose reading was held because they did not read their replies.",
    m.throttled,
  );
  if (snapshot.workers !== undefined) {
    family(
      "parley_worker_connections_open",
      "gauge",
      "Client connections open now in each worker (--workers): how evenly the kernel spreads them.",
      snapshot.workers.map(([worker, n]) => [`{worker="${worker}"}`, n]),
    );
  }
  one(
    "parley_rate_limited_total",
    "counter",
    "Clients whose lines waited for their turn because they sent faster than --rate.",
    m.rateLimited,
  );
  one("parley_room_members", "gauge", "Members of this server's chat room.", snapshot.roomMembers);
  one(
    "parley_ready",
    "gauge",
    "1 when the server accepts new clients (see /readyz).",
    snapshot.ready ? 1 : 0,
  );
  const redis = snapshot.redis;
  if (redis !== undefined) {
    one("parley_redis_up", "gauge", "1 while the link to Redis is up.", redis.up ? 1 : 0);
    one("parley_redis_outages_total", "counter", "Times the link to Redis went down.", redis.outages);
    one(
      "parley_redis_unconfirmed_bytes",
      "gauge",
      "Bytes sent to Redis and not yet confirmed.",
      redis.unconfirmedBytes,
    );
    one(
      "parley_redis_round_trip_seconds",
      "gauge",
      "The last probe's round trip through Redis.",
      redis.roundTripSeconds,
    );
  }
  const lag = m.loopLag;
  out.push(
    "# HELP parley_event_loop_lag_seconds How late the event loop ran a timer.",
    "# TYPE parley_event_loop_lag_seconds histogram",
    ...lag.bounds.map((bound, i) =>
      `parley_event_loop_lag_seconds_bucket{le="${bound}"} ${lag.cumulative[i]}`
    ),
    `parley_event_loop_lag_seconds_bucket{le="+Inf"} ${lag.count}`,
    `parley_event_loop_lag_seconds_sum ${lag.sum}`,
    `parley_event_loop_lag_seconds_count ${lag.count}`,
  );
  one("parley_resident_memory_bytes", "gauge", "Resident memory of the server process.", snapshot.rssBytes);
  return out.join("\n") + "\n";
}
