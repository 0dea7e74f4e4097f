/**
 * Parley as a library: a concurrent multi-client line server and its client.
 *
 * The folders follow a byte from the socket to a reply:
 *
 * - `transport/`: where connections come from and what they read and write ({@linkcode Listener},
 *   {@linkcode Stream}): TCP, TLS, Unix sockets, WebSockets ({@linkcode WebSocketStream}).
 * - `protocol/`: pure wire rules: the capped line framer, terminal-safe escaping, names.
 * - `server/`: the accept loop ({@linkcode serve}), admission, each client's lifecycle
 *   ({@linkcode Connection}) with its output queue and deadlines, the members, the operator, the
 *   admin endpoint, and `modes/`.
 * - `backend.ts`: what a chat is served with ({@linkcode Backend}): a registry, a relay, a history.
 * - `registry/`: connection ids, admission limits and chat names ({@linkcode MemoryRegistry} in one
 *   process, shared memory for `--workers`).
 * - `relay/`: lines to the rooms served elsewhere (the other workers).
 * - `history/`: the last lines said ({@linkcode MemoryHistory}).
 * - `redis/`: the Redis backend, self-contained; not exported here, so that this module never
 *   loads the Redis client (import `redis/mod.ts` for it).
 * - `web/`: the page and the HTTP side of the WebSocket bridge ({@linkcode listenWeb}).
 * - `app/`: the two programs' flags, and the only code that chooses implementations (the plan, the
 *   backends, one composition root, the `--workers` pool); nothing in `lib/` imports it.
 * - `client/`: the client's sessions and reconnects ({@linkcode runClient}).
 * - `log.ts`, `terminal.ts`, `util/`: what every side uses.
 *
 * The server core (`server/`, `protocol/`) knows transports, registries and relays only as
 * interfaces, so a new kind of each plugs in without touching the modes.
 *
 * @example An echo server on a port the system picks, stopped by an AbortSignal
 * ```ts
 * import { createLogger, listenTcp, MemoryRegistry, serve } from "./mod.ts";
 *
 * const stop = new AbortController();
 * const server = serve(listenTcp({ host: "127.0.0.1", port: 0 }), {
 *   mode: "echo",
 *   registry: new MemoryRegistry(),
 *   logger: createLogger({ write: console.error }),
 *   signal: stop.signal,
 * });
 * stop.abort();
 * await server.finished;
 * ```
 *
 * @module
 */

export {
  serve,
  type ServeOptions,
  type ServerHandle,
  type ServeSettings,
  type ServeSummary,
} from "./server/serve.ts";
export { Connection, type ConnectionOptions, type ConnectionSettings } from "./server/connection.ts";
export type { CloseReason } from "./server/close_reason.ts";
export { createLogger, type Logger, type LoggerOptions } from "./log.ts";
export { type Member, type Mode, MODE_NAMES, type ModeName } from "./server/modes/mod.ts";
export type { Operator } from "./server/operator.ts";
export { LineFramer, LineTooLongError } from "./protocol/framer.ts";
export { escapeControl, escapeText } from "./protocol/escape.ts";
export type { Listener, Stream } from "./transport/transport.ts";
export { connectTcp, listenTcp, type TcpListenOptions } from "./transport/tcp.ts";
export { WebSocketStream } from "./transport/websocket.ts";
export { listenWeb, type WebListenOptions } from "./web/listener.ts";
export type { NameEvents, Names, Refusal, Registry, RegistryLimits } from "./registry/registry.ts";
export { MemoryRegistry } from "./registry/memory.ts";
export type { LineKind, Relay, RelayHandlers, RoomLine } from "./relay/relay.ts";
export type { Backend, LinkHealth } from "./backend.ts";
export type { History, HistoryEntry, HistorySnapshot } from "./history/history.ts";
export { MemoryHistory } from "./history/memory.ts";
export { type ClientOptions, type ClientOutcome, ConnectError, runClient } from "./client/run_client.ts";
