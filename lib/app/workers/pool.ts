/**
 * `--workers N`: N isolates serve one port, each on its own thread with its own listener, accept
 * loop and event loop. The listeners share the port with SO_REUSEPORT, so the kernel spreads new
 * connections over them and no thread hands sockets to another. Each worker runs the same
 * plan and assembles itself as a single process does (`../assemble.ts`), given a `SharedRegistry`
 * (ids, limits and chat names in shared memory) and, in chat mode, a BroadcastChannel to the other
 * workers; this thread only starts them, passes shutdown on and adds up what they served. The pool
 * is a `ServerHandle` like a single server.
 */

import type { Operator } from "../../server/operator.ts";
import { SharedRegistry, type SharedRegistryBuffers } from "../../registry/shared.ts";
import type { RegistryLimits } from "../../registry/registry.ts";
import type { LogFormat, Logger, Threshold } from "../../log.ts";
import {
  addSummary,
  describeSummary,
  emptyStats,
  emptySummary,
  type ServerHandle,
  type ServerStats,
  type ServeSummary,
} from "../../server/serve.ts";
import type { LinkHealth } from "../../backend.ts";
import { type PlainMetrics, ServerMetrics } from "../../server/metrics.ts";
import type { ListenSpec } from "../../transport/listen.ts";
import { WebListenError } from "../../web/listener.ts";
import type { ServerPlan } from "../plan.ts";
import type { Reloaded } from "../reload.ts";
import { listenTcp } from "../../transport/tcp.ts";
import { formatAddr } from "../../util/net.ts";

/** Workers share a TCP port (with or without TLS); a Unix socket has one listener. */
export type TcpOrTls = Extract<ListenSpec, { transport: "tcp" | "tls" }>;

/** The plan of a server whose workers share its port. */
export type WorkerPlan = ServerPlan & { listen: TcpOrTls };

/** What the main thread tells a worker. */
export type WorkerCommand =
  | {
    kind: "start";
    /** 1-based, as the log shows it. */
    index: number;
    /** What to serve, with the real ports when 0 was asked for. */
    plan: WorkerPlan;
    log: WorkerLogOptions;
    registry: SharedRegistryBuffers;
    /** `--admin`: each worker measures its event loop's lag for `/metrics`. */
    admin: boolean;
    /** The chat's operator console is this worker's: lines come as `operator` commands. */
    operated?: boolean;
  }
  | { kind: "shutdown"; reason: string }
  /** A line the operator typed at the main thread's terminal (to the operated worker). */
  | { kind: "operator"; line: string }
  /** The operator's input ended. */
  | { kind: "operator-end" }
  /** Asks for the worker's numbers, for one scrape of `/metrics`. */
  | { kind: "stats"; id: number }
  /** SIGHUP: settings read again by the main thread, to put in force. */
  | { kind: "reload"; id: number; reloaded: Reloaded };

/** A worker's numbers, as plain data. */
export type PlainStats = Omit<ServerStats, "metrics"> & { metrics: PlainMetrics };

/** How each worker logs; it tags its lines with its number. */
export interface WorkerLogOptions {
  format: LogFormat;
  quiet: boolean;
  level: Threshold;
}

/** What a worker tells the main thread. */
export type WorkerReport =
  | { kind: "listening" }
  /** `listen`: the port is the problem; `start`: anything else (Redis), said in `error`. */
  | { kind: "failed"; error: string; stage: "listen" | "start" }
  | { kind: "finished"; summary: ServeSummary }
  | { kind: "stats"; id: number; worker: number; stats: PlainStats; link?: LinkHealth }
  /** Whether the reload `id` is in force there; `error` says why not. */
  | { kind: "reloaded"; id: number; error?: string }
  /** A line for the operator's terminal, or its prompt, from the operated worker. */
  | { kind: "print"; line: string }
  | { kind: "prompt"; text: string };

/** Workers could not be started, for a reason other than the port; the message is one sentence. */
export class WorkerStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WorkerStartError";
  }
}

const WORKER_MODULE = new URL("./worker.ts", import.meta.url);
/** How long a reload waits for every worker to say it is in force. */
const RELOAD_WITHIN_MS = 5000;

/**
 * Run from source, Deno loads a Worker's modules (all of `lib/`) from disk at run time, which takes
 * read access to them (a compiled binary has them embedded and needs none). Checked up front,
 * because the worker's own error would arrive late and wrapped.
 */
function checkWorkerModuleReadable(): void {
  if (Deno.build.standalone || WORKER_MODULE.protocol !== "file:") return;
  const folder = decodeURIComponent(new URL("../..", WORKER_MODULE).pathname);
  if (Deno.permissions.querySync({ name: "read", path: folder }).state !== "granted") {
    throw new WorkerStartError(
      `--workers needs read access to ${folder} to load its workers (add --allow-read=${folder})`,
    );
  }
}

/** Options for {@linkcode serveWorkers}. */
export interface WorkerPoolOptions {
  /** How many workers. */
  workers: number;
  /**
   * What every worker serves. Each opens its own listeners there with SO_REUSEPORT (the web port
   * too), and its own backend.
   */
  plan: WorkerPlan;
  /** Limits over all workers together. */
  limits: RegistryLimits;
  log: WorkerLogOptions;
  /** The main thread's log; each worker logs on its own, tagged with its number. */
  logger: Logger;
  /** Aborting it shuts every worker down; its reason (a string) is logged. */
  signal?: AbortSignal;
  /** `--admin`: the workers keep what `/metrics` shows. @default {false} */
  admin?: boolean;
  /** A chat's operator at the main thread's terminal: worker 1 serves the console. */
  operator?: Operator;
}

/**
 * Starts `options.workers` workers on one port; resolves once every one of them listens.
 * Rejects, with every worker stopped, when they cannot listen (a `WebListenError` for the web
 * port), and with a {@linkcode WorkerStartError} when they cannot start at all.
 */
export async function serveWorkers(options: WorkerPoolOptions): Promise<WorkerPool> {
  checkWorkerModuleReadable();
  const { workers, plan, logger } = options;
  const mode = plan.settings.mode ?? "console";
  // One plain bind first: it fails like a single server would when the port is taken, even by
  // another SO_REUSEPORT group we must not silently join, and it turns port 0 into a real port.
  // With --reuse-port the port may be another Parley's too, on purpose: the probe shares it.
  const shared = plan.listen.reusePort ?? false;
  const probe = listenTcp({ ...plan.listen, reusePort: shared });
  const addr = probe.addr as Deno.NetAddr;
  probe.close();
  let web = plan.web;
  if (web !== undefined) {
    let webProbe;
    try {
      webProbe = listenTcp({ ...web, reusePort: shared });
    } catch (error) {
      throw new WebListenError(error);
    }
    web = { ...web, port: (webProbe.addr as Deno.NetAddr).port, reusePort: true };
    webProbe.close();
  }
  const registry = SharedRegistry.create({ ...options.limits, workers });
  // Through Redis, each worker is a server of the room like any other; a channel would repeat it.
  const channel = mode === "chat" && plan.backend.redis === undefined
    ? `parley-chat-${crypto.randomUUID()}`
    : undefined;
  const pool = new WorkerPool(addr, logger, registry.maxConns);
  // Before the workers start: the console's first prompt comes as worker 1 starts.
  if (options.operator !== undefined) pool.operate(options.operator);
  const started = Array.from({ length: workers }, (_, i) =>
    pool.start({
      kind: "start",
      index: i + 1,
      plan: {
        ...plan,
        listen: { ...plan.listen, port: addr.port, reusePort: true },
        web,
        backend: { ...plan.backend, channel },
        // Without Redis, a session is kept by the worker that served it, and the kernel sends a
        // client that comes back to any worker; through Redis, any worker resumes it.
        settings: plan.backend.redis !== undefined ? plan.settings : {
          ...plan.settings,
          sessionsOff: "sessions need --redis with --workers (any worker then resumes them)",
        },
      },
      log: options.log,
      registry: registry.buffers,
      admin: options.admin ?? false,
      operated: options.operator !== undefined && i === 0,
    }));
  const failures = (await Promise.allSettled(started)).filter((r) => r.status === "rejected");
  if (failures.length > 0) {
    await pool.abandon("a worker could not listen").catch(() => {});
    throw (failures[0] as PromiseRejectedResult).reason;
  }
  logger.info("workers", `${workers} workers serving ${formatAddr(addr)} (${mode} mode)`, {
    workers,
    port: addr.port,
  });
  const { signal } = options;
  const onAbort = () =>
    pool.shutdown(typeof signal?.reason === "string" ? signal.reason : "shutdown requested");
  if (signal?.aborted) onAbort();
  signal?.addEventListener("abort", onAbort, { once: true });
  pool.finished.finally(() => signal?.removeEventListener("abort", onAbort)).catch(() => {});
  return pool;
}

/** Running workers. Create them with {@linkcode serveWorkers}. */
export class WorkerPool implements ServerHandle {
  /** The address every worker listens on. */
  readonly addr: Deno.NetAddr;
  /** Reads the settings again (SIGHUP): set by whoever knows where they come from (see `ServerHandle`). */
  reload?: () => Promise<string>;
  #logger: Logger;
  #operator: Operator | undefined;
  #workers: Worker[] = [];
  #done: Promise<ServeSummary>[] = [];
  #failure: Error | undefined;
  #stopping = false;
  #finished: Promise<ServeSummary> | undefined;
  /** Log no summary at the end: it never started serving. */
  #abandoned = false;
  #maxConns: number;
  /** Scrapes waiting for the workers' numbers, by request id. */
  #asked = new Map<number, { stats: [number, PlainStats][]; links: LinkHealth[]; done: () => void }>();
  #nextAsk = 0;

  constructor(addr: Deno.NetAddr, logger: Logger, maxConns: number) {
    this.addr = addr;
    this.#logger = logger;
    this.#maxConns = maxConns;
  }

  /**
   * Every worker's numbers, summed: one scrape covers them all. A worker that does not answer
   * within a second is left out of this one.
   */
  async stats(): Promise<ServerStats> {
    const id = this.#nextAsk++;
    const { promise, resolve } = Promise.withResolvers<void>();
    const asked = { stats: [] as [number, PlainStats][], links: [] as LinkHealth[], done: resolve };
    this.#asked.set(id, asked);
    for (const worker of this.#workers) worker.postMessage({ kind: "stats", id } satisfies WorkerCommand);
    const timer = setTimeout(resolve, 1000);
    await promise;
    clearTimeout(timer);
    this.#asked.delete(id);
    return sumStats(asked.stats, this.#maxConns, this.#stopping);
  }

  /** The workers' links to Redis, as one: up when all are, counts summed. */
  linkHealth(): LinkHealth | undefined {
    return this.#lastLinks.length === 0 ? undefined : {
      up: this.#lastLinks.every((link) => link.up),
      outages: this.#lastLinks.reduce((sum, link) => sum + link.outages, 0),
      unconfirmedBytes: this.#lastLinks.reduce((sum, link) => sum + link.unconfirmedBytes, 0),
      roundTripSeconds: Math.max(...this.#lastLinks.map((link) => link.roundTripSeconds)),
    };
  }

  /**
   * Puts `reloaded` (read and checked by the caller) in force in every worker; rejects with the
   * first worker's reason when one cannot take it.
   */
  async reloadWorkers(reloaded: Reloaded): Promise<void> {
    const id = this.#nextAsk++;
    const answers = this.#workers.map(() => Promise.withResolvers<string | undefined>());
    let next = 0;
    this.#reloads.set(id, (error) => answers[next++]?.resolve(error));
    for (const worker of this.#workers) {
      worker.postMessage({ kind: "reload", id, reloaded } satisfies WorkerCommand);
    }
    // A worker that does not answer (it died) must not hold the reload for ever.
    const timer = setTimeout(() => {
      for (const answer of answers) {
        answer.resolve(`a worker did not answer within ${RELOAD_WITHIN_MS / 1000} s`);
      }
    }, RELOAD_WITHIN_MS);
    const errors = await Promise.all(answers.map((answer) => answer.promise));
    clearTimeout(timer);
    this.#reloads.delete(id);
    const error = errors.find((e) => e !== undefined);
    if (error !== undefined) throw new Error(error);
  }

  /** Reloads waiting for the workers' answers, by request id. */
  #reloads = new Map<number, (error: string | undefined) => void>();

  /** The links the workers reported with the last scrape. */
  #lastLinks: LinkHealth[] = [];

  #heard(report: WorkerReport & { kind: "stats" }): void {
    const asked = this.#asked.get(report.id);
    if (asked === undefined) return;
    asked.stats.push([report.worker, report.stats]);
    if (report.link !== undefined) asked.links.push(report.link);
    if (asked.stats.length === this.#workers.length) {
      this.#lastLinks = asked.links;
      asked.done();
    }
  }

  /**
   * Resolves with the totals once every worker has shut down; rejects if one of them died (the
   * others are then shut down gracefully first).
   */
  get finished(): Promise<ServeSummary> {
    return this.#finished ??= Promise.all(this.#done).then((summaries) => {
      if (this.#failure !== undefined) throw this.#failure;
      const total = summaries.reduce(addSummary, emptySummary());
      if (!this.#abandoned) {
        this.#logger.info("summary", `all workers: ${describeSummary(total)}`, { ...total });
      }
      return total;
    });
  }

  /** Tells every worker to shut down as a single server would. Resolves like {@linkcode finished}. */
  shutdown(reason = "shutdown requested"): Promise<ServeSummary> {
    if (!this.#stopping) {
      this.#stopping = true;
      for (const worker of this.#workers) {
        worker.postMessage({ kind: "shutdown", reason } satisfies WorkerCommand);
      }
    }
    return this.finished;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /** Stops workers that could not all start; the caller says why, so no summary is logged. */
  abandon(reason: string): Promise<ServeSummary> {
    this.#abandoned = true;
    return this.shutdown(reason);
  }

  /** Starts one worker; resolves once it listens, rejects with why it cannot. */
  /** From now on, what `operator` types goes to worker 1, and what it prints comes back. */
  operate(operator: Operator): void {
    this.#operator = operator;
    void (async () => {
      for await (const line of operator.lines) {
        this.#workers[0]?.postMessage({ kind: "operator", line } satisfies WorkerCommand);
      }
      this.#workers[0]?.postMessage({ kind: "operator-end" } satisfies WorkerCommand);
    })().catch(() => {/* the terminal closed */});
  }

  start(command: WorkerCommand & { kind: "start" }): Promise<void> {
    const worker = new Worker(WORKER_MODULE, { type: "module" });
    this.#workers.push(worker);
    const { promise: listening, resolve: listened, reject: failed } = Promise.withResolvers<void>();
    const { promise: done, resolve: finish } = Promise.withResolvers<ServeSummary>();
    this.#done.push(done);
    const end = (summary: ServeSummary) => {
      worker.terminate();
      finish(summary);
    };
    worker.onmessage = (event: MessageEvent<WorkerReport>) => {
      const report = event.data;
      if (report.kind === "stats") this.#heard(report);
      else if (report.kind === "reloaded") this.#reloads.get(report.id)?.(report.error);
      else if (report.kind === "listening") listened();
      else if (report.kind === "print") this.#operator?.print(report.line);
      else if (report.kind === "prompt") this.#operator?.prompt?.(report.text);
      else if (report.kind === "failed") {
        failed(report.stage === "listen" ? new Error(report.error) : new WorkerStartError(report.error));
        end(emptySummary());
      } else end(report.summary);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      const error = new Error(`worker ${command.index} failed: ${event.message}`);
      failed(error);
      this.#failure ??= error;
      this.#logger.error("worker_failed", `${error.message}; shutting the others down`, {
        worker: command.index,
      });
      end(emptySummary());
      void this.shutdown(`worker ${command.index} failed`);
    };
    worker.postMessage(command);
    // A shutdown asked for while this one was starting must reach it too.
    if (this.#stopping) {
      worker.postMessage({ kind: "shutdown", reason: "shutting down" } satisfies WorkerCommand);
    }
    return listening;
  }
}

/** The numbers of several workers as one server's. */
function sumStats(answers: [number, PlainStats][], maxConns: number, draining: boolean): ServerStats {
  const metrics = new ServerMetrics();
  const open = new Map<string, number>();
  const parts = answers.map(([, part]) => part);
  const total = emptyStats(metrics, parts[0]?.mode ?? "echo", maxConns, draining);
  total.workers = answers.map(([worker, part]): [number, number] => [worker, part.clients])
    .sort(([a], [b]) => a - b);
  for (const part of parts) {
    metrics.merge(part.metrics);
    for (const [transport, n] of part.open) open.set(transport, (open.get(transport) ?? 0) + n);
    total.liveLinesIn += part.liveLinesIn;
    total.liveLinesOut += part.liveLinesOut;
    total.liveBytesIn += part.liveBytesIn;
    total.liveBytesOut += part.liveBytesOut;
    total.queueMaxBytes = Math.max(total.queueMaxBytes, part.queueMaxBytes);
    total.queueBytes += part.queueBytes;
    total.clients += part.clients;
    total.draining ||= part.draining;
  }
  total.open = [...open].sort(([a], [b]) => a.localeCompare(b));
  return total;
}
